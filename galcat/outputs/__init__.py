"""Model outputs back into catalogues: embedding/prediction/kNN columns, neighbour grids, SAMP.

Imports are lazy so that ``galcat.outputs.columns`` works without torch or the model package.
"""

from galcat._lazy import lazy_dir, lazy_exports

_LAZY = {
    "ClassifyConfig": "galcat.outputs.classify",
    "classify_targets": "galcat.outputs.classify",
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

__getattr__ = lazy_exports(__name__, _LAZY)
__dir__ = lazy_dir(globals(), _LAZY)


__all__ = list(_LAZY)
