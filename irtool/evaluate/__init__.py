"""``irtool eval``: benchmark registry, named pinned protocols and the evaluation runner (no printing here).

    from irtool.evaluate import evaluate, benchmark_dataset, folder_dataset, get_protocol
    report = evaluate([None, loaded_model], folder_dataset("hr/"), "dn-rgb-swinir", task="denoise", sigma=25)
"""

from irtool.evaluate.benchmarks import (
    Benchmark,
    EvalDataset,
    EvalSample,
    benchmark_dataset,
    benchmark_root,
    extract_archive,
    fetch_benchmark,
    folder_dataset,
    get_benchmark,
    load_benchmarks,
)
from irtool.evaluate.protocols import DEFAULT_PROTOCOL, PROTOCOLS, TASKS, Protocol, default_protocol, get_protocol
from irtool.evaluate.runner import (
    EvalReport,
    ImageResult,
    ModelSummary,
    evaluate,
    make_noisy,
    prepare_image,
    reports_to_json,
    score,
    write_csv,
    write_json,
)

__all__ = [
    "DEFAULT_PROTOCOL",
    "PROTOCOLS",
    "TASKS",
    "Benchmark",
    "EvalDataset",
    "EvalReport",
    "EvalSample",
    "ImageResult",
    "ModelSummary",
    "Protocol",
    "benchmark_dataset",
    "benchmark_root",
    "default_protocol",
    "evaluate",
    "extract_archive",
    "fetch_benchmark",
    "folder_dataset",
    "get_benchmark",
    "get_protocol",
    "load_benchmarks",
    "make_noisy",
    "prepare_image",
    "reports_to_json",
    "score",
    "write_csv",
    "write_json",
]
