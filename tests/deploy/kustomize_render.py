"""A small kustomize renderer for exactly the features deploy/k8s uses.

No kustomize binary is available on the development machines and no usable one is on PyPI, so
tests/deploy renders the kustomizations with this module. It implements, and refuses anything
else (an unknown key in a kustomization, a `$patch` directive, a generator option it does not
model) so that the manifests cannot quietly come to depend on more than it renders:

- `resources`: YAML files (several documents each) and directories with a kustomization.yaml,
  rendered first (a base is complete, with its own transformers, before an overlay sees it);
- `secretGenerator` / `configMapGenerator` with `envs` (KEY=VALUE files) and `literals`,
  only with `generatorOptions.disableNameSuffixHash: true` (no hash suffix, so no name
  references to rewrite);
- `patches`: a `path` or an inline `patch`; a YAML list is a JSON 6902 patch (add, replace,
  remove) and needs a `target`; a mapping is a strategic merge patch, aimed at the object
  of its own kind and name (or at `target`). Strategic merge follows the Kubernetes merge keys
  of the fields the manifests patch (containers, env, ports, volumes, volumeMounts by name /
  port / mountPath); other lists are replaced, maps merged, a null value deletes;
- `namespace` (on every namespaced object), `labels` (`pairs` into metadata.labels only),
  `images` (`newName`, `newTag`, `digest` on containers and init containers of pod templates).

Order as in kustomize: resources and generators, then patches, then namespace, labels, images.
"""
from __future__ import annotations

import base64
import copy
from pathlib import Path

import yaml

SUPPORTED_KEYS = {"apiVersion", "kind", "resources", "namespace", "labels", "images", "patches",
                  "secretGenerator", "configMapGenerator", "generatorOptions"}
CLUSTER_SCOPED = {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding",
                  "PersistentVolume", "StorageClass", "IngressClass", "PriorityClass"}
# field name -> the key its list items merge on (strategic merge patch)
MERGE_KEYS = {"containers": "name", "initContainers": "name", "env": "name",
              "volumes": "name", "volumeMounts": "mountPath", "imagePullSecrets": "name",
              "ports": None}   # containerPort in a container, port in a Service: see _merge_key
POD_TEMPLATE_PATHS = (("spec", "template", "spec"),
                      ("spec", "jobTemplate", "spec", "template", "spec"))


class KustomizeError(Exception):
    pass


def load_documents(path: Path) -> list[dict]:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    for doc in docs:
        if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
            raise KustomizeError(f"{path}: not a Kubernetes object: {doc!r:.80}")
    return docs


def build(directory: Path | str) -> list[dict]:
    """The objects `kustomize build <directory>` would print (in resource order)."""
    root = Path(directory)
    kfile = root / "kustomization.yaml"
    if not kfile.is_file():
        raise KustomizeError(f"{root}: no kustomization.yaml")
    spec = yaml.safe_load(kfile.read_text()) or {}
    unknown = set(spec) - SUPPORTED_KEYS
    if unknown:
        raise KustomizeError(f"{kfile}: unsupported kustomization keys {sorted(unknown)}")

    objects: list[dict] = []
    for entry in spec.get("resources", []):
        target = _inside(root, entry)
        objects.extend(build(target) if target.is_dir() else load_documents(target))
    objects.extend(_generate(root, spec))
    _no_duplicates(objects, kfile)

    for patch in spec.get("patches", []):
        _apply_patch(root, patch, objects)
    if "namespace" in spec:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED:
                obj.setdefault("metadata", {})["namespace"] = spec["namespace"]
    for label in spec.get("labels", []):
        if set(label) - {"pairs"} or label.get("includeSelectors") or label.get("includeTemplates"):
            raise KustomizeError(f"{kfile}: only `labels: [{{pairs: ...}}]` is supported")
        for obj in objects:
            obj.setdefault("metadata", {}).setdefault("labels", {}).update(label["pairs"])
    for image in spec.get("images", []):
        _set_image(image, objects, kfile)
    return objects


def _inside(root: Path, entry: str) -> Path:
    path = (root / entry).resolve()
    if not path.exists():
        raise KustomizeError(f"{root}: resource {entry} does not exist")
    return path


def _no_duplicates(objects, where):
    seen = set()
    for obj in objects:
        key = _identity(obj)
        if key in seen:
            raise KustomizeError(f"{where}: {key} is defined twice")
        seen.add(key)


def _identity(obj) -> tuple:
    group = obj["apiVersion"].rpartition("/")[0]
    return group, obj["kind"], obj.get("metadata", {}).get("name")


# -- generators -----------------------------------------------------------------------------

def _generate(root: Path, spec: dict) -> list[dict]:
    options = spec.get("generatorOptions", {})
    generated = []
    for kind, field in (("Secret", "secretGenerator"), ("ConfigMap", "configMapGenerator")):
        for gen in spec.get(field, []):
            if set(gen) - {"name", "envs", "literals", "type"}:
                raise KustomizeError(f"{root}: {field} supports name, envs, literals, type only")
            if options != {"disableNameSuffixHash": True}:
                raise KustomizeError(f"{root}: generators need generatorOptions "
                                     "{disableNameSuffixHash: true} (no name references here)")
            data: dict[str, str] = {}
            for env in gen.get("envs", []):
                data.update(_read_env(_inside(root, env)))
            for literal in gen.get("literals", []):
                key, sep, value = literal.partition("=")
                if not sep:
                    raise KustomizeError(f"{root}: literal {literal!r} is not KEY=VALUE")
                data[key] = value
            obj = {"apiVersion": "v1", "kind": kind, "metadata": {"name": gen["name"]}}
            if kind == "Secret":
                obj["type"] = gen.get("type", "Opaque")
                obj["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
            else:
                obj["data"] = data
            generated.append(obj)
    return generated


def _read_env(path: Path) -> dict[str, str]:
    data = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key:
            raise KustomizeError(f"{path}:{number}: not KEY=VALUE")
        data[key] = value
    return data


# -- patches --------------------------------------------------------------------------------

def _apply_patch(root: Path, entry: dict, objects: list[dict]) -> None:
    if set(entry) - {"path", "patch", "target"} or ("path" in entry) == ("patch" in entry):
        raise KustomizeError(f"{root}: a patch has either path or patch (and maybe target)")
    text = _inside(root, entry["path"]).read_text() if "path" in entry else entry["patch"]
    docs = [d for d in yaml.safe_load_all(text) if d is not None]
    target = entry.get("target")
    if len(docs) == 1 and isinstance(docs[0], list):
        if not target:
            raise KustomizeError(f"{root}: a JSON 6902 patch needs a target")
        for obj in _select(objects, target, root):
            for op in docs[0]:
                _json6902(obj, op, root)
        return
    for doc in docs:
        if not isinstance(doc, dict):
            raise KustomizeError(f"{root}: a patch is a mapping or a list of operations")
        selector = target or {"kind": doc.get("kind"), "name": doc.get("metadata", {}).get("name"),
                              "version": doc.get("apiVersion", "").rpartition("/")[2],
                              "group": doc.get("apiVersion", "").rpartition("/")[0]}
        for obj in _select(objects, selector, root):
            merged = strategic_merge(obj, doc)
            obj.clear()
            obj.update(merged)


def _select(objects, target: dict, root) -> list[dict]:
    if set(target) - {"group", "version", "kind", "name"}:
        raise KustomizeError(f"{root}: target supports group, version, kind, name only")
    found = []
    for obj in objects:
        group, _, version = obj["apiVersion"].rpartition("/")
        have = {"group": group, "version": version, "kind": obj["kind"],
                "name": obj.get("metadata", {}).get("name")}
        if all(have[k] == v for k, v in target.items() if v is not None):
            found.append(obj)
    if not found:
        raise KustomizeError(f"{root}: the patch target {target} matches no object")
    return found


def strategic_merge(base, patch, field: str | None = None):
    if isinstance(patch, dict):
        if any(k.startswith("$") for k in patch):
            raise KustomizeError(f"strategic merge directives are not supported: {sorted(patch)}")
        if not isinstance(base, dict):
            return copy.deepcopy(patch)
        result = copy.deepcopy(base)
        for key, value in patch.items():
            if value is None:
                result.pop(key, None)
            elif key in result:
                result[key] = strategic_merge(result[key], value, key)
            else:
                result[key] = copy.deepcopy(value)
        return result
    if isinstance(patch, list) and isinstance(base, list) and field in MERGE_KEYS:
        key = _merge_key(field, base + patch)
        if key:
            result = copy.deepcopy(base)
            for item in patch:
                match = next((r for r in result if r.get(key) == item.get(key)), None)
                if match is None:
                    result.append(copy.deepcopy(item))
                else:
                    result[result.index(match)] = strategic_merge(match, item)
            return result
    return copy.deepcopy(patch)


def _merge_key(field, items):
    if field != "ports":
        return MERGE_KEYS[field]
    if all(isinstance(i, dict) and "containerPort" in i for i in items):
        return "containerPort"
    if all(isinstance(i, dict) and "port" in i for i in items):
        return "port"
    return None


def _json6902(obj: dict, op: dict, root) -> None:
    if op.get("op") not in ("add", "replace", "remove"):
        raise KustomizeError(f"{root}: JSON patch op {op.get('op')!r} is not supported")
    parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
    parent = obj
    for part in parts[:-1]:
        try:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        except (KeyError, IndexError, ValueError) as exc:
            raise KustomizeError(f"{root}: {op['path']} does not exist") from exc
    last = parts[-1]
    if isinstance(parent, list):
        index = len(parent) if last == "-" else int(last)
        if op["op"] == "add":
            parent.insert(index, copy.deepcopy(op["value"]))
        elif index >= len(parent):
            raise KustomizeError(f"{root}: {op['path']} does not exist")
        elif op["op"] == "replace":
            parent[index] = copy.deepcopy(op["value"])
        else:
            del parent[index]
        return
    if op["op"] != "add" and last not in parent:
        raise KustomizeError(f"{root}: {op['path']} does not exist")
    if op["op"] == "remove":
        del parent[last]
    else:
        parent[last] = copy.deepcopy(op["value"])


# -- images ---------------------------------------------------------------------------------

def pod_specs(obj: dict):
    for path in POD_TEMPLATE_PATHS:
        node = obj
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            yield node


def _split_image(image: str) -> tuple[str, str]:
    if "@" in image:
        name, _, digest = image.partition("@")
        return name, "@" + digest
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        return image[:colon], ":" + image[colon + 1:]
    return image, ""


def _set_image(entry: dict, objects: list[dict], where) -> None:
    if set(entry) - {"name", "newName", "newTag", "digest"}:
        raise KustomizeError(f"{where}: images support name, newName, newTag, digest only")
    for obj in objects:
        for spec in pod_specs(obj):
            for container in spec.get("containers", []) + spec.get("initContainers", []):
                name, suffix = _split_image(container.get("image", ""))
                if name != entry["name"]:
                    continue
                if "digest" in entry:
                    suffix = "@" + entry["digest"]
                elif "newTag" in entry:
                    suffix = ":" + str(entry["newTag"])
                container["image"] = entry.get("newName", name) + suffix
