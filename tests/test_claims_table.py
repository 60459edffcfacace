"""The paper-against-ours tables that close the chapters."""
import pytest

from alexnet.results import claims_table


def test_markdown_has_a_header_a_rule_and_one_line_per_row_with_pipes_escaped():
    t = claims_table([("max |Δ|", "—", "1.9e-06"), ("ten crops", "1.5%", "+1.9%")], scale="cifar10, quick")
    lines = t._repr_markdown_().splitlines()
    assert lines[0] == "| claim | paper | ours |"
    assert lines[1] == "|---|---|---|"
    assert lines[2] == r"| max \|Δ\| | — | 1.9e-06 |"
    assert lines[3] == "| ten crops | 1.5% | +1.9% |"
    assert lines[-1] == "*Scale: cifar10, quick*"
    # every table line splits into the same number of cells once escaped pipes are left alone
    for line in lines[:4]:
        assert line.replace(r"\|", "").count("|") == 4


def test_text_form_aligns_the_columns():
    t = claims_table([("a", "bb", "c"), ("dddd", "e", "ffffff")], headers=("x", "paper", "ours"))
    rows = str(t).splitlines()
    assert [r.index(h) for r, h in zip(rows, ("paper", "bb", "e"))] == [6, 6, 6]
    assert rows[2].split() == ["dddd", "e", "ffffff"]


def test_a_row_with_the_wrong_number_of_cells_is_refused():
    with pytest.raises(ValueError, match="3 cells"):
        claims_table([("only", "two")])
