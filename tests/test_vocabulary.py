"""One control vocabulary: the README's OSC and MIDI tables and the key overlay say what the code does."""
import re
from pathlib import Path

import pytest

from core.errors import LiveError
from live.config import PARAM_SPECS
from live.control import actions as A
from live.control.midi import DEFAULT_CC
from live.control.osc import ADDRESSES, parse_message

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _table_after(heading: str) -> list[list[str]]:
    """Rows (cells, backticks stripped) of the first markdown table after the line starting with heading."""
    lines = README[README.index(heading):].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip().strip("`") for c in line.strip("|").split("|")])
    return rows


def test_readme_osc_table_lists_exactly_the_addresses():
    rows = _table_after("OSC in (")
    assert sorted(r[0] for r in rows) == sorted(ADDRESSES)
    for address, args, _ in rows:  # each documented form parses into an action
        example = {"f": [0.5], "s or i": ["chill"], "s": ["jellyfish"]}.get(args, [])
        assert isinstance(parse_message(address.replace("<row>", "2"), example), A.Action), address


def test_readme_midi_table_is_the_default_map_and_every_word_is_an_action():
    rows = _table_after("MIDI (`--midi NAME`")
    documented = {}
    for ccs, word, _ in rows:
        for cc in re.findall(r"\d+", ccs):
            documented[int(cc)] = word
    assert documented == DEFAULT_CC
    assert {w for _, w, _ in rows} == set(PARAM_SPECS) | set(A.NAMED) | {"mod1`, `mod2`, ..."}
    for word in list(documented.values()) + ["mod1", "mod2", f"mod{A.MOD_ROWS}"]:
        assert isinstance(A.named(word, "README"), A.Action)
    with pytest.raises(LiveError):  # a row past the last word is no word
        A.named(f"mod{A.MOD_ROWS + 1}", "README")


def test_an_unknown_word_or_address_is_an_error_naming_its_source():
    with pytest.raises(LiveError, match=r"^map.toml:3: unknown action 'warp' — use a parameter"):
        A.named("warp", "map.toml:3")
    with pytest.raises(LiveError, match=r"^OSC: unknown address /live/warp — use /live/pitch_sensitivity"):
        parse_message("/live/warp", [])


def test_walker_actions_are_the_recorded_kinds():
    assert set(A.WALKER_ACTIONS) == {A.SetParams, A.SetClasses, A.Reseed, A.Freeze, A.SetMatrix, A.SetModAmount,
                                     A.SetBeatClock, A.Turn}
    assert set(A.KINDS) == {"params", "classes", "reseed", "freeze", "matrix", "mod_amount", "beat_clock", "turn"}
