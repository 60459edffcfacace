"""The package's message helpers."""
from alexnet.text import plural


def test_plural_says_one_thing_and_many_things():
    assert plural(1, "epoch") == "1 epoch"
    assert plural(0, "epoch") == "0 epochs"
    assert plural(2, "seed") == "2 seeds"
    assert plural(5000, "image") == "5,000 images"
    assert plural(1, "class", "classes") == "1 class" and plural(3, "class", "classes") == "3 classes"
    assert plural(1.5, "epoch") == "1.5 epochs"
