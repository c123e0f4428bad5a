"""YAML as a topology file needs it: a page or two of mappings, each key once. Bounded, so that a hostile or
broken file is refused at once in one line rather than hanging the loader or overflowing its stack."""

from __future__ import annotations

import re

import yaml

MAX_BYTES = 1 << 20  # a topology is a page or two; a larger file is not one
MAX_DEPTH = 32  # mappings and lists inside each other
MAX_ALIASES = 64  # YAML aliases (labs/vagrant-configured.yml uses a few); an alias bomb uses thousands
MAX_NODES = 20_000  # the document's nodes with every alias expanded: 64 aliases nested 9 by 9 are millions

# YAML 1.2's core schema for plain scalars, not PyYAML's 1.1: 022 is 22 (never octal 18), yes/no/on/off are words,
# 1:30 is a string (never sexagesimal 90).
BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)


class Yaml12Resolver(yaml.resolver.Resolver):
    """PyYAML's resolver with YAML 1.2 core's booleans, integers and floats in place of 1.1's."""


Yaml12Resolver.yaml_implicit_resolvers = {
    first: [
        (tag, rx)
        for tag, rx in resolvers
        if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
    ]
    for first, resolvers in yaml.resolver.Resolver.yaml_implicit_resolvers.items()
}
for _tag, _rx, _first in (
    ("tag:yaml.org,2002:bool", BOOL, "tTfF"),
    ("tag:yaml.org,2002:int", INT, "-+0123456789"),
    ("tag:yaml.org,2002:float", FLOAT, "-+0123456789."),
):
    Yaml12Resolver.add_implicit_resolver(_tag, _rx, list(_first))


class StrictYaml(
    yaml.reader.Reader,
    yaml.scanner.Scanner,
    yaml.parser.Parser,
    yaml.composer.Composer,
    yaml.constructor.SafeConstructor,
    Yaml12Resolver,
):
    """YAML as a topology needs it (YAML 1.2's scalars): no key twice, nesting, aliases and the tree they expand to
    bounded (an alias bomb or a 100,000-deep nesting is refused at once rather than hanging or overflowing the
    stack)."""

    def __init__(self, text: str):
        yaml.reader.Reader.__init__(self, text)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        Yaml12Resolver.__init__(self)
        self.depth = self.aliases = 0

    def get_single_node(self):
        node = super().get_single_node()
        if node is not None and expanded_size(node) > MAX_NODES:
            raise yaml.YAMLError(f"its aliases expand to more than {MAX_NODES} values")
        return node

    def construct_yaml_int(self, node):
        text = self.construct_scalar(node)
        if text.startswith(("0o", "0x")):
            return int(text[2:], 8 if text[1] == "o" else 16)
        return int(text, 10)  # 022 is 22

    def construct_yaml_bool(self, node):
        return self.construct_scalar(node).lower() == "true"

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise yaml.YAMLError(f"more than {MAX_ALIASES} aliases")
            return super().compose_node(parent, index)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise yaml.YAMLError(f"nested more than {MAX_DEPTH} deep")
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                mark = key_node.start_mark
                raise yaml.YAMLError(f"key {key!r} given twice (line {mark.line + 1})")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


StrictYaml.add_constructor("tag:yaml.org,2002:int", StrictYaml.construct_yaml_int)
StrictYaml.add_constructor("tag:yaml.org,2002:bool", StrictYaml.construct_yaml_bool)


def expanded_size(node, limit: int = MAX_NODES) -> int:
    """How many values the node stands for with every alias expanded (each shared node counted as often as it is
    used), stopping once past the limit."""
    sizes: dict[int, int] = {}

    def size(n) -> int:
        if id(n) in sizes:
            return sizes[id(n)]
        total = 1
        if isinstance(n, yaml.SequenceNode):
            children = n.value
        elif isinstance(n, yaml.MappingNode):
            children = [part for pair in n.value for part in pair]
        else:
            children = []
        for child in children:
            total += size(child)
            if total > limit:
                break
        sizes[id(n)] = total
        return total

    return size(node)
