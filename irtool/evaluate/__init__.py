"""``irtool eval``: benchmark registry, named pinned protocols and the evaluation runner (no printing here).

    from irtool.evaluate import evaluate, benchmark_dataset, folder_dataset, get_protocol
    report = evaluate([None, loaded_model], folder_dataset("hr/"), "dn-rgb-swinir", task="denoise", sigma=25)
    report = evaluate([None, *classical_denoisers(sigma=25), loaded_model], ...)   # + NLM / wavelet / TV rows
    detection = evaluate_detector(load_detector(zoo), "photos/")                    # irtool eval --task detect
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
from irtool.evaluate.classical import CLASSICAL_DENOISERS, ClassicalDenoiser, classical_denoisers
from irtool.evaluate.detection import DetectionReport, DetectionSample, evaluate_detector, evaluate_detector_on_files
from irtool.evaluate.protocols import DEFAULT_PROTOCOL, PROTOCOLS, TASKS, Protocol, default_protocol, get_protocol
from irtool.evaluate.runner import (
    EvalReport,
    ImageRestorer,
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
    "CLASSICAL_DENOISERS",
    "DEFAULT_PROTOCOL",
    "PROTOCOLS",
    "TASKS",
    "Benchmark",
    "ClassicalDenoiser",
    "DetectionReport",
    "DetectionSample",
    "EvalDataset",
    "EvalReport",
    "EvalSample",
    "ImageRestorer",
    "ImageResult",
    "ModelSummary",
    "Protocol",
    "benchmark_dataset",
    "benchmark_root",
    "classical_denoisers",
    "default_protocol",
    "evaluate",
    "evaluate_detector",
    "evaluate_detector_on_files",
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
