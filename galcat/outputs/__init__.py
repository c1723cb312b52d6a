"""Model outputs back into catalogues: embedding/prediction/kNN columns, neighbour grids, SAMP.

Imports are lazy so that ``galcat.outputs.columns`` works without torch or the model package.
"""

_LAZY = {
    "EmbedConfig": "galcat.outputs.embed",
    "embed_catalogue": "galcat.outputs.embed",
    "annotate_outputs": "galcat.outputs.columns",
    "ReferenceNeighbours": "galcat.outputs.columns",
    "EmbeddingIndex": "galcat.outputs.index",
    "NeighboursConfig": "galcat.outputs.neighbours",
    "find_neighbours": "galcat.outputs.neighbours",
    "find_query": "galcat.outputs.neighbours",
    "send_table": "galcat.outputs.samp",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'galcat.outputs' has no attribute {name!r}")


__all__ = list(_LAZY)
