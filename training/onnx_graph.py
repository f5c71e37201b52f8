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

    The two dot products are LinearRegressors (see `dot_product`); onnxruntime's Reduce* kernels
    were 3x slower on a 45k-wide row than the one elementwise Mul they replace.
    """
    from onnx import helper, numpy_helper

    def constant(name: str, values: np.ndarray) -> Any:
        return numpy_helper.from_array(np.asarray(values, dtype=np.float32), name)

    initializers = [
        constant("head_vader_w", vader_weights.reshape(-1, 1)),
        constant("head_b", np.array([intercept])),
        constant("head_tiny", np.array(1e-30)),  # on the squared norm; float32-safe
        constant("head_signs", np.array([[-1.0, 1.0]])),
    ]
    node = helper.make_node
    # Few nodes: for one tweet each costs a few µs of dispatch, more than its arithmetic.
    nodes = [
        dot_product(counts, weighted_idf, "head_dot"),
        node("Mul", [counts, counts], ["head_counts_sq"]),
        dot_product("head_counts_sq", squared_idf, "head_sq"),
        node("Max", ["head_sq", "head_tiny"], ["head_sq_safe"]),
        node("Sqrt", ["head_sq_safe"], ["head_norm"]),
        node("Div", ["head_dot", "head_norm"], ["head_text"]),
        node("Gemm", [vader, "head_vader_w", "head_b"], ["head_vader"]),
        node("Add", ["head_text", "head_vader"], ["head_score"]),
        # [σ(−s), σ(s)] = [1 − p, p], as the LOGISTIC LinearClassifier gave.
        node("Mul", ["head_score", "head_signs"], ["head_scores"]),
        node("Sigmoid", ["head_scores"], ["probabilities"]),
        # Ties (s = 0) go to class 0, as the classifier's own argmax did.
        node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0),
    ]
    return nodes, initializers


def dot_product(source: str, weights: np.ndarray, output: str) -> Any:
    """x·w for each row of a wide [N, V] tensor, as [N, 1].

    ai.onnx.ml's LinearRegressor rather than MatMul: measured on V = 41k, one row took 9.5 µs
    against MatMul's 47 µs (which packs its [V, 1] operand on every run), 100 rows the same.
    """
    from onnx import helper

    return helper.make_node(
        "LinearRegressor",
        [source],
        [output],
        name=output,
        domain="ai.onnx.ml",
        coefficients=np.asarray(weights, dtype=np.float32).tolist(),
        intercepts=[0.0],
        targets=1,
    )


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
