"""Read, convert and save checkpoints.

Accepted files (``--weights``): our ``.safetensors`` (preset name in the metadata), official
Restormer ``.pth`` (``{'params': sd}``, also ``params_ema``), official HAIR/PromptIR Lightning
``.ckpt`` (``{'state_dict': sd}`` with the Lightning module's ``net.`` prefix), DDP-saved
dicts (``module.`` prefix) and bare state dicts. Pickles are opened with
``torch.load(weights_only=True)``: a checkpoint can never run code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import torch
from torch import nn

from irtool.errors import InvalidArgumentError

#: Wrapper keys, most preferred first: EMA weights are what BasicSR-style repos evaluate (``params_ema``) and
#: what irtool's own training validates and exports (``ema`` in its checkpoints).
_WRAPPER_KEYS = ("params_ema", "ema", "params", "state_dict", "model", "net")
_PREFIXES = ("module.", "net.", "model.")


def strip_prefixes(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop the wrapper prefixes every key shares (``module.`` of DDP, ``net.``/``model.`` of Lightning modules)."""
    changed = True
    while changed:
        changed = False
        for prefix in _PREFIXES:
            if sd and all(k.startswith(prefix) for k in sd):
                sd = {k[len(prefix):]: v for k, v in sd.items()}
                changed = True
    return sd


def read_checkpoint(path: str | Path, *, strip: bool = True) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Return (state_dict, metadata) from any supported checkpoint file, tensors on the CPU.

    ``strip=False`` keeps the keys' shared prefixes (:func:`strip_prefixes`): another project's architecture may
    name its own layers ``model.0``, ``model.1``... (ESRGAN), which stripping would turn into other names.
    """
    p = Path(path)
    if not p.is_file():
        raise InvalidArgumentError(f"weights file not found: {p}")
    if p.suffix == ".safetensors":
        from safetensors import safe_open

        try:
            with safe_open(str(p), framework="pt", device="cpu") as fh:
                meta = dict(fh.metadata() or {})
                return {k: fh.get_tensor(k) for k in fh.keys()}, meta
        except Exception as exc:  # safetensors raises several types for corrupt headers
            raise InvalidArgumentError(f"{p.name}: not a readable safetensors file ({exc})") from None
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        reason = f"{type(exc).__name__}: {str(exc)[:200]}"
        raise InvalidArgumentError(f"{p.name}: cannot read checkpoint ({reason})") from None
    while isinstance(obj, Mapping):
        key = next((k for k in _WRAPPER_KEYS if k in obj and isinstance(obj[k], Mapping)), None)
        if key is None:
            break
        obj = obj[key]
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise InvalidArgumentError(f"{p.name}: no state dict found (expected tensors, or params/params_ema/state_dict)")
    return strip_prefixes(dict(obj)) if strip else dict(obj), {}


def load_into(model: nn.Module, state_dict: Mapping[str, torch.Tensor], *, source: str,
              grown: bool = False) -> nn.Module:
    """Strict load with a readable error instead of PyTorch's wall of key names.

    ``grown``: the file may lack the parts ``model`` names in its ``grown_parts`` (prefixes of parts that start at
    zero, so a network grown from a smaller one's weights first computes what that one did); they keep their
    initial values. For ``--init-weights``."""
    own = model.state_dict()
    extra = tuple(getattr(model, "grown_parts", ())) if grown else ()
    missing = [k for k in own if k not in state_dict and not (extra and k.startswith(extra))]
    unexpected = [k for k in state_dict if k not in own]
    shape = [k for k in own if k in state_dict and tuple(own[k].shape) != tuple(state_dict[k].shape)]
    if missing or unexpected or shape:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        if shape:
            k = shape[0]
            parts.append(f"{len(shape)} shape mismatches "
                         f"(e.g. {k}: {tuple(state_dict[k].shape)} vs {tuple(own[k].shape)})")
        raise InvalidArgumentError(f"{source} does not fit this architecture: " + "; ".join(parts))
    model.load_state_dict(state_dict, strict=not extra)
    return model


def save_safetensors(state_dict: Mapping[str, torch.Tensor], path: str | Path, *, metadata: Mapping[str, str]) -> str:
    """Write atomically (``irtool.io.atomic``) and return the file's sha256: the same tensors and metadata give the
    same bytes in every process (:func:`_ordered_header`), so a re-export reproduces weights.toml's sha256."""
    import hashlib

    from safetensors.torch import save

    from irtool.io.atomic import atomic_write_bytes

    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()}
    data = _ordered_header(save(tensors, metadata={k: str(v) for k, v in metadata.items()}))
    atomic_write_bytes(path, data)
    return hashlib.sha256(data).hexdigest()


def _ordered_header(data: bytes) -> bytes:
    """``data`` (a safetensors file) with its JSON header's keys sorted at every level. safetensors writes the
    header from hash maps, whose order changes from process to process; the tensor bytes and their offsets do not
    depend on it. The header stays padded with spaces to a multiple of 8 bytes, as the format asks."""
    import json

    length = int.from_bytes(data[:8], "little")
    text = json.dumps(json.loads(data[8:8 + length]), separators=(",", ":"), sort_keys=True).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + data[8 + length:]
