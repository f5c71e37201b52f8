"""Rewrites of the converted ONNX graph that keep its numbers and cut its cost.

skl2onnx turns the pipeline into: TF counts [N, V] → Mul(idf) → L2 normaliser → Concat with the
four VADER scores → LinearClassifier. Every step after the TF-IDF op walks a dense [N, V] matrix
(V ≈ 45k terms), so a batch spends most of its time there: profiled on 100 tweets, ReduceL2,
Div, Concat and the classifier took ~75 % of the graph's time.

A linear model needs none of that width after the dot product. With t = tf ⊙ idf and w the text
weights, the score is w·(t / ‖t‖) + v·vader + b = (w·t) / ‖t‖ + v·vader + b, so the head becomes
MatMul(t, w) [N, 1] divided by √ReduceSumSquare(t) [N, 1], plus a [N, 4] × [4, 1] MatMul: one
dense product and one dense reduction instead of four dense passes. The outputs keep their names,
types and meaning (`label` int64 [N], `probabilities` float [N, 2]), and the export's parity gate
checks the numbers against scikit-learn.
"""

from __future__ import annotations

from typing import Any

import numpy as np

TEXT_FEATURES_OP = "Div"  # the normalised TF-IDF, as replace_l2_normalizer leaves it


def fold_linear_head(model: Any) -> Any:
    """Replace idf + normaliser + Concat + LinearClassifier by the narrow head; unchanged if the
    graph is not the expected one.

    Expects the graph `export.convert_pipeline` builds: Mul(tf, idf) → Div(t, max(‖t‖, tiny)) →
    Concat(text, vader) → binary LinearClassifier with LOGISTIC post-transform. Returns the same
    ModelProto, changed in place.
    """
    graph = model.graph
    nodes = {output: node for node in graph.node for output in node.output}
    constants = {init.name: init for init in graph.initializer}
    classifier = next((n for n in graph.node if n.op_type == "LinearClassifier"), None)
    concat = nodes.get(classifier.input[0]) if classifier is not None else None
    if concat is None or concat.op_type != "Concat" or len(concat.input) != 2:
        return model
    divide = nodes.get(concat.input[0])
    scale = nodes.get(divide.input[0]) if divide is not None else None
    if divide.op_type != TEXT_FEATURES_OP or scale is None or scale.op_type != "Mul":
        return model
    if scale.input[1] not in constants:
        return model
    from onnx import numpy_helper

    idf = numpy_helper.to_array(constants[scale.input[1]]).astype(np.float64).reshape(-1)
    weights, intercept = read_binary_weights(classifier)
    text_weights = weights[: idf.size].astype(np.float64)
    head = build_head(
        scale.input[0], concat.input[1], text_weights * idf, idf**2, weights[idf.size :], intercept
    )
    replace_nodes(model, [scale, divide, concat, classifier], *head)
    return model


def read_binary_weights(classifier: Any) -> tuple[np.ndarray, float]:
    """(weights of class 1, intercept of class 1) of a two-row binary LinearClassifier."""
    from onnx import helper

    attributes = {a.name: helper.get_attribute_value(a) for a in classifier.attribute}
    coefficients = np.asarray(attributes["coefficients"], dtype=np.float32).reshape(2, -1)
    return coefficients[1], float(attributes["intercepts"][1])


def build_head(
    counts: str,
    vader: str,
    weighted_idf: np.ndarray,
    squared_idf: np.ndarray,
    vader_weights: np.ndarray,
    intercept: float,
) -> tuple[list[Any], list[Any]]:
    """(nodes, initializers) computing `label` and `probabilities` from the term counts tf and
    the VADER scores: score = (tf·(w⊙idf)) / max(√((tf⊙tf)·idf²), tiny) + vader·v + b.

    The two dot products are MatMuls (onnxruntime's GEMV); its Reduce* kernels were 3x slower on
    a 45k-wide row than the one elementwise Mul they replace.
    """
    from onnx import TensorProto, helper, numpy_helper

    def constant(name: str, values: np.ndarray) -> Any:
        return numpy_helper.from_array(np.asarray(values, dtype=np.float32), name)

    initializers = [
        constant("head_text_w", weighted_idf.reshape(-1, 1)),
        constant("head_idf_sq", squared_idf.reshape(-1, 1)),
        constant("head_vader_w", vader_weights.reshape(-1, 1)),
        constant("head_b", np.array([intercept])),
        constant("head_tiny", np.array(1e-30)),
        constant("head_zero", np.array(0.0)),
        constant("head_one", np.array(1.0)),
        numpy_helper.from_array(np.array([-1], dtype=np.int64), "head_shape"),
    ]
    node = helper.make_node
    nodes = [
        node("MatMul", [counts, "head_text_w"], ["head_dot"]),
        node("Mul", [counts, counts], ["head_counts_sq"]),
        node("MatMul", ["head_counts_sq", "head_idf_sq"], ["head_sq"]),
        node("Sqrt", ["head_sq"], ["head_norm"]),
        node("Max", ["head_norm", "head_tiny"], ["head_safe"]),
        node("Div", ["head_dot", "head_safe"], ["head_text"]),
        node("MatMul", [vader, "head_vader_w"], ["head_vader"]),
        node("Add", ["head_text", "head_vader"], ["head_sum"]),
        node("Add", ["head_sum", "head_b"], ["head_score"]),
        node("Sigmoid", ["head_score"], ["head_p1"]),
        node("Sub", ["head_one", "head_p1"], ["head_p0"]),
        node("Concat", ["head_p0", "head_p1"], ["probabilities"], axis=1),
        node("Greater", ["head_score", "head_zero"], ["head_positive"]),
        node("Cast", ["head_positive"], ["head_label2d"], to=TensorProto.INT64),
        node("Reshape", ["head_label2d", "head_shape"], ["label"]),
    ]
    return nodes, initializers


def replace_nodes(model: Any, old: list[Any], nodes: list[Any], initializers: list[Any]) -> None:
    """Put the new head where `old` was, then drop whatever no longer feeds an output."""
    graph = model.graph
    at = min(list(graph.node).index(node) for node in old)
    for node in old:
        graph.node.remove(node)
    for offset, node in enumerate(nodes):
        graph.node.insert(at + offset, node)
    graph.initializer.extend(initializers)
    prune_dead_nodes(graph)


def prune_dead_nodes(graph: Any) -> None:
    """Remove nodes none of whose outputs is read (the old norm's ReduceL2, Max), and unread
    initializers, until nothing changes: onnxruntime would otherwise still run them."""
    outputs = {output.name for output in graph.output}
    while True:
        used = outputs | {name for node in graph.node for name in node.input}
        dead = [node for node in graph.node if not used.intersection(node.output)]
        if not dead:
            break
        for node in dead:
            graph.node.remove(node)
    used = {name for node in graph.node for name in node.input}
    for initializer in list(graph.initializer):
        if initializer.name not in used:
            graph.initializer.remove(initializer)
