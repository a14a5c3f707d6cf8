"""Concept questions: the right letter passes, every option explains itself."""

import pytest

from workbench.course import QUESTIONS, Feedback, check_choice


@pytest.mark.parametrize("name", sorted(QUESTIONS))
def test_each_option_has_an_explanation_and_only_the_key_passes(name):
    q = QUESTIONS[name]
    assert q.correct in q.options and set(q.why) == set(q.options)
    for letter in q.options:
        feedback = check_choice(name, letter.upper() + ")")
        assert feedback.passed == (letter == q.correct)
        assert q.why[letter] in feedback.message


def test_unknown_question_and_answer():
    with pytest.raises(KeyError, match="no question 'nope'"):
        check_choice("nope", "a")
    assert "not one of the options" in check_choice("canary_vs_test", "z").message
    unanswered = check_choice("canary_vs_test", None)
    assert unanswered.passed is None and "a) " in unanswered.message


def test_feedback_prints_and_renders():
    right, wrong = Feedback("x", True, "because"), Feedback("x", False, "not so")
    assert bool(right) and not wrong
    assert str(right) == "✓ x: right. because" and repr(wrong) == "✗ x: not yet. not so"
    assert "not yet" in wrong._repr_html_() and "&lt;" in Feedback("x", False, "<b>")._repr_html_()
