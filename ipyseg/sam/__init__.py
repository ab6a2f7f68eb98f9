"""Segment Anything with your own ONNX weights: :class:`SamModel` and the ``sam`` method.

Importing this package registers the method ``sam`` (``segment(..., method="sam", model=m)``)
and the proposal method ``sam`` (``propose(image, "sam", model=m)``: the automatic mask
generator); ``ipyseg`` imports it, so the registries themselves know nothing of SAM. Rooms:
``model`` (SamModel and the method), ``automask`` (grid prompts to instance labels), ``files``
(what an encoder/decoder pair must look like), ``cache`` (embeddings in memory and on disk),
``prompts`` (seeds to point prompts), ``masks`` (logits to labels), ``onnx`` (reading and
running ONNX files on cv2.dnn or onnxruntime).
"""

from ipyseg.sam.automask import auto_masks
from ipyseg.sam.model import PARAMS, SamModel, SamPrediction, sam

__all__ = ["PARAMS", "SamModel", "SamPrediction", "auto_masks", "sam"]
