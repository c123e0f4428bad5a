"""YAML as a topology file needs it: a page or two of mappings, each key once. Bounded, so that a hostile or
broken file is refused at once in one line rather than hanging the loader or overflowing its stack."""

from __future__ import annotations

import yaml

MAX_BYTES = 1 << 20  # a topology is a page or two; a larger file is not one
MAX_DEPTH = 32  # mappings and lists inside each other
MAX_ALIASES = 64  # YAML aliases (labs/vagrant-configured.yml uses a few); an alias bomb uses thousands


class StrictYaml(yaml.SafeLoader):
    """YAML as a topology needs it: no key twice, nesting and aliases bounded (an alias bomb or a 100,000-deep
    nesting is refused at once rather than hanging or overflowing the stack)."""

    def __init__(self, text: str):
        super().__init__(text)
        self.depth = self.aliases = 0

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
