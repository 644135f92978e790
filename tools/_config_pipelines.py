"""Pipeline formats: plain YAML and JSON, DVC (dvc.yaml, params.yaml), MLflow MLproject and
compiled Kubeflow Pipelines IR specs, normalised into flat entries."""

from __future__ import annotations

import posixpath

from tools._config_model import (
    ConfigData,
    ConfigScalar,
)
from tools._config_tree import (
    _child,
    _Entry,
    _Flat,
    _flatten,
    _flatten_into,
    _Leaf,
    _Map,
    _require_map,
    _Seq,
    _Tree,
)

__all__ = []

# --------------------------------------------------------------------------------------------
# Format normalisers: annotated tree -> flat entries.


def _plain_entries(tree: _Tree | None, path: str) -> _Flat:
    if tree is not None and not isinstance(tree, _Map):
        # A top-level list or scalar still has a flat view; its key is the file's stem.
        stem = posixpath.splitext(posixpath.basename(path))[0]
        return _flatten(tree, stem)
    return _flatten(tree, "")


def _dvc_list(tree: _Tree) -> ConfigData:
    """A DVC deps/outs/params list as strings: ``{file.yaml: [a, b]}`` -> ``file.yaml:a``."""
    if isinstance(tree, _Leaf):
        return tree.value
    if isinstance(tree, _Map):
        return list[ConfigScalar](sorted(tree.items))
    names: list[ConfigScalar] = []
    for item in tree.items:
        if isinstance(item, _Leaf):
            names.append(item.value)
        elif isinstance(item, _Map):
            for name, sub in item.items.items():
                if isinstance(sub, _Seq) and all(isinstance(s, _Leaf) for s in sub.items):
                    names.extend(f"{name}:{s.value}" for s in sub.items if isinstance(s, _Leaf))
                else:
                    names.append(name)
    return names


def _dvc_entries(tree: _Tree | None, path: str) -> _Flat:
    root = _require_map(tree, path, "dvc.yaml")
    flat = _Flat()
    for key, child in root.items.items():
        if key != "stages" or not isinstance(child, _Map):
            _flatten_into(flat, child, key, root.lines[key])
            continue
        for stage, body in child.items.items():
            prefix = f"stages.{stage}"
            if not isinstance(body, _Map):
                _flatten_into(flat, body, prefix, child.lines[stage])
                continue
            for field_name, value in body.items.items():
                line = body.lines[field_name]
                if field_name in ("deps", "outs", "params", "metrics", "plots"):
                    flat.entries.append(_Entry(f"{prefix}.{field_name}", _dvc_list(value), line))
                else:
                    _flatten_into(flat, value, f"{prefix}.{field_name}", line)
    return flat


def _mlproject_entries(tree: _Tree | None, path: str) -> _Flat:
    root = _require_map(tree, path, "MLproject")
    flat = _Flat()
    for key, child in root.items.items():
        if key != "entry_points" or not isinstance(child, _Map):
            _flatten_into(flat, child, key, root.lines[key])
            continue
        for ep, body in child.items.items():
            prefix = f"entry_points.{ep}"
            if not isinstance(body, _Map):
                _flatten_into(flat, body, prefix, child.lines[ep])
                continue
            for field_name, value in body.items.items():
                if field_name != "parameters" or not isinstance(value, _Map):
                    _flatten_into(flat, value, f"{prefix}.{field_name}", body.lines[field_name])
                    continue
                for param, spec in value.items.items():
                    key_line = value.lines[param]
                    default = _child(spec, "default")
                    if isinstance(default, _Leaf):
                        # The default's own line: that is the line a reviewer edits.
                        flat.entries.append(
                            _Entry(f"{prefix}.parameters.{param}", default.value, default.line)
                        )
                    else:
                        flat.entries.append(_Entry(f"{prefix}.parameters.{param}", None, key_line))
    return flat


def _kfp_task_entries(flat: _Flat, tasks: _Tree | None, prefix: str) -> None:
    if not isinstance(tasks, _Map):
        return
    for task, body in tasks.items.items():
        at = f"{prefix}.{task}"
        ref = _child(body, "componentRef", "name")
        if isinstance(ref, _Leaf):
            flat.entries.append(_Entry(f"{at}.component", ref.value, ref.line))
        cache = _child(body, "cachingOptions", "enableCache")
        if isinstance(cache, _Leaf):
            flat.entries.append(_Entry(f"{at}.cache", cache.value, cache.line))
        after = _child(body, "dependentTasks")
        if after is not None:
            _flatten_into(flat, after, f"{at}.after", after.line)
        params = _child(body, "inputs", "parameters")
        if not isinstance(params, _Map):
            continue
        for name, spec in params.items.items():
            key = f"{at}.inputs.{name}"
            constant = _child(spec, "runtimeValue", "constant")
            if constant is not None:
                _flatten_into(flat, constant, key, params.lines[name])
                continue
            source = _child(spec, "componentInputParameter")
            producer = _child(spec, "taskOutputParameter", "producerTask")
            output = _child(spec, "taskOutputParameter", "outputParameterKey")
            if isinstance(source, _Leaf):
                flat.entries.append(
                    _Entry(key, f"{{{{pipeline.{source.value}}}}}", params.lines[name])
                )
            elif isinstance(producer, _Leaf):
                out = output.value if isinstance(output, _Leaf) else "output"
                flat.entries.append(
                    _Entry(key, f"{{{{tasks.{producer.value}.{out}}}}}", params.lines[name])
                )


def _kubeflow_entries(tree: _Tree | None, path: str) -> _Flat:
    root = _require_map(tree, path, "a Kubeflow pipeline spec")
    spec = _child(root, "pipelineSpec") or root
    flat = _Flat()
    pipeline_name = _child(spec, "pipelineInfo", "name")
    if isinstance(pipeline_name, _Leaf):
        flat.entries.append(_Entry("pipeline.name", pipeline_name.value, pipeline_name.line))
    for key, out in (
        ("sdkVersion", "pipeline.sdk_version"),
        ("schemaVersion", "pipeline.schema_version"),
    ):
        leaf = _child(spec, key)
        if isinstance(leaf, _Leaf):
            flat.entries.append(_Entry(out, leaf.value, leaf.line))

    params = _child(spec, "root", "inputDefinitions", "parameters")
    if isinstance(params, _Map):
        for name, definition in params.items.items():
            default = _child(definition, "defaultValue")
            if default is None:
                flat.entries.append(_Entry(f"parameters.{name}", None, params.lines[name]))
            else:
                _flatten_into(flat, default, f"parameters.{name}", default.line)
    # A PipelineJob's runtimeConfig overrides the compiled defaults.
    runtime = _child(root, "runtimeConfig")
    values = _child(runtime, "parameterValues")
    if isinstance(values, _Map):
        for name, value in values.items.items():
            _flatten_into(flat, value, f"parameters.{name}", values.lines[name])
    legacy = _child(runtime, "parameters")
    if isinstance(legacy, _Map):
        for name, value in legacy.items.items():
            typed = next(iter(value.items.values()), None) if isinstance(value, _Map) else value
            _flatten_into(flat, typed, f"parameters.{name}", legacy.lines[name])

    executors = _child(spec, "deploymentSpec", "executors")
    if isinstance(executors, _Map):
        for name, body in executors.items.items():
            container = _child(body, "container")
            if isinstance(container, _Map):
                for field_name, value in container.items.items():
                    _flatten_into(
                        flat, value, f"executors.{name}.{field_name}", container.lines[field_name]
                    )
            importer = _child(body, "importer", "artifactUri", "constant")
            if importer is not None:
                _flatten_into(flat, importer, f"executors.{name}.artifact_uri", importer.line)

    components = _child(spec, "components")
    if isinstance(components, _Map):
        for name, body in components.items.items():
            label = _child(body, "executorLabel")
            if isinstance(label, _Leaf):
                flat.entries.append(_Entry(f"components.{name}.executor", label.value, label.line))
            _kfp_task_entries(flat, _child(body, "dag", "tasks"), f"components.{name}.tasks")
    _kfp_task_entries(flat, _child(spec, "root", "dag", "tasks"), "tasks")
    # Later definitions (runtimeConfig) override earlier ones (compiled defaults).
    merged: dict[str, _Entry] = {}
    for entry in flat.entries:
        merged[entry.key] = entry
    return _Flat(list(merged.values()), flat.list_prefixes)
