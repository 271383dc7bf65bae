"""The seeded demo world: a maternal and child health programme in India, as KoBo, ODK and spreadsheets.

`generate(out_dir, submissions, seed)` writes the layout of docs/contracts.md section 2;
`evolve(data_dir, seed)` applies a "next day" to a world on disk. Same seed → byte-identical files.
"""

from demo.generator.kobo import KOBO_ASSET_UIDS
from demo.generator.write import evolve, generate

__all__ = ["KOBO_ASSET_UIDS", "evolve", "generate"]
