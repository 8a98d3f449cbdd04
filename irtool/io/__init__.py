"""Files in and out: image decoding and encoding, atomic writes, image listing, input expansion, sharding, and a
batch's plan with its read-ahead decoder.

numpy and Pillow, plus imagecodecs (16-bit colour PNG) and tifffile (16-bit colour TIFF, all TIFF output).
"""

from irtool.io.atomic import atomic_directory, atomic_output, atomic_write_bytes, atomic_write_text, is_temp_name
from irtool.io.images import (
    DEFAULT_JPEG_QUALITY,
    DEFAULT_MAX_PIXELS,
    SUPPORTED_FORMATS,
    LoadedImage,
    normalize_format,
    read_image,
    resize_alpha,
    write_image,
)
from irtool.io.inputs import (
    IMAGE_EXTENSIONS,
    InputItem,
    count_kinds,
    expand_inputs,
    file_output_format,
    find_inputs,
    is_image_name,
    list_images,
    other_files,
    output_path,
    plan_outputs,
)
from irtool.io.jobs import Job, ReadAhead, plan_jobs, will_decode
from irtool.io.shard import Shard, parse_shard, select_shard, shard_from_env

__all__ = [
    "DEFAULT_JPEG_QUALITY",
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "SUPPORTED_FORMATS",
    "InputItem",
    "Job",
    "LoadedImage",
    "ReadAhead",
    "Shard",
    "atomic_directory",
    "atomic_output",
    "atomic_write_bytes",
    "atomic_write_text",
    "count_kinds",
    "expand_inputs",
    "file_output_format",
    "find_inputs",
    "is_image_name",
    "is_temp_name",
    "list_images",
    "normalize_format",
    "other_files",
    "output_path",
    "parse_shard",
    "plan_jobs",
    "plan_outputs",
    "read_image",
    "resize_alpha",
    "select_shard",
    "shard_from_env",
    "will_decode",
    "write_image",
]
