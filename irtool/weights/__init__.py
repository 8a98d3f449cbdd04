"""weights.toml catalog, checkpoint reading/conversion, and verified hub downloads."""

from .catalog import Catalog, WeightsEntry, load_catalog, parse_catalog
from .hub import entry_path, hub_download, is_present

__all__ = ["Catalog", "WeightsEntry", "load_catalog", "parse_catalog", "entry_path", "hub_download", "is_present"]
