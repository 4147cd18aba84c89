import pytest

from live.classes import LABELS, SYNONYMS, random_classes, resolve_classes, search
from core.errors import LiveError


def test_labels_and_synonyms():
    assert len(LABELS) == len(SYNONYMS) == 1000
    assert LABELS[107] == "jellyfish" and LABELS[980] == "volcano"
    assert all(SYNONYMS[i][0] == LABELS[i] for i in range(1000))


def test_names_ids_any_lemma_any_case():
    assert resolve_classes("jellyfish, 980") == [107, 980]
    assert resolve_classes("Great White Shark,man-eater , coral_reef") == [2, 973]  # duplicate dropped
    assert resolve_classes("0, 999") == [0, 999]


def test_unknown_name_suggests_close_matches():
    with pytest.raises(LiveError, match=r"unknown class 'jelyfish' — did you mean: jellyfish"):
        resolve_classes("volcano, jelyfish")


@pytest.mark.parametrize("spec", ["1000", "-1", "", " , "])
def test_bad_ids_and_empty(spec):
    with pytest.raises(LiveError):
        resolve_classes(spec)


def test_random_classes_deterministic():
    a = random_classes(5, seed=3)
    assert a == random_classes(5, seed=3)
    assert a != random_classes(5, seed=4)
    assert len(set(a)) == 5 and all(0 <= i < 1000 for i in a)


def test_search():
    hits = search("Shark")
    assert (2, "great white shark") in hits and (4, "hammerhead") in hits
    assert search("volcano")[0] == (980, "volcano")
    assert search("zzzz") == []
