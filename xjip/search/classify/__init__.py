"""IPC auto-classification (issue 11 §6): paste a title, abstract or claims, get the five likeliest
IPC subclasses and main groups with a confidence and their Chinese titles. The model is a file
the platform builds from real labelled records (`xjip classify --train`), never downloaded."""
from xjip.search.classify.model import (  # noqa: F401
    MAX_TEXT, ClassifyInputError, ModelMissing, classify, model_path, train,
)
