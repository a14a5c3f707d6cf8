"""Concept questions with an answer key: each option says why it is right or wrong."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.course._feedback import Feedback, unanswered


@dataclass(frozen=True)
class Question:
    prompt: str
    options: dict[str, str]
    correct: str
    why: dict[str, str]


QUESTIONS: dict[str, Question] = {
    "when_to_use": Question(
        "Which project suits synthetic labels best?",
        {"a": "diagnoses that need a radiologist's judgment",
         "b": "spam triage over millions of comments, with clear patterns, a clean test set and a moderate cost of errors",
         "c": "contracts sorted by nuanced legal definitions, with no clean test set",
         "d": "a 200-row table that is already fully labeled"},
        "b",
        {"a": "a generator cannot encode specialist judgment; lean on verified ground truth there",
         "b": "clear classes, a large unlabeled pool, a clean test set to stay honest and moderate error costs: the sweet spot",
         "c": "nuanced definitions defeat heuristics, and without a clean test set you cannot measure the result",
         "d": "with every row labeled there is nothing left to label: train on the real labels"}),
    "label_model_vs_majority": Question(
        "When can plain majority vote beat a label model?",
        {"a": "never: the label model always learns more",
         "b": "when its assumptions fail, e.g. LFs whose errors are correlated or few overlaps to learn from",
         "c": "only with more than ten LFs"},
        "b",
        {"a": "the label model estimates accuracies from agreement; wrong assumptions give wrong estimates (the bundled LFs show it)",
         "b": "it learns LF accuracies from how LFs agree, assuming they err independently; correlated LFs look more reliable than they are",
         "c": "the number of LFs is not the point; how they agree and err together is"}),
    "canary_vs_test": Question(
        "Why keep a canary set besides the test set?",
        {"a": "to have more rows to test on",
         "b": "the test set is looked at again and again while you develop, so it slowly turns into a tuning set; "
              "the canary is looked at once, as a gate before export",
         "c": "to train the end model on",
         "d": "to write LFs against"},
        "b",
        {"a": "more rows would go into test; the canary's value is that nobody looks at it until the gate",
         "b": "every look at test nudges a choice; an untouched canary still tells the truth when export is decided",
         "c": "the canary is never trained on, synthetic or otherwise",
         "d": "LFs are written on dev; an LF written against the canary would make its gate meaningless"}),
    "split_for_threshold": Question(
        "Which split should choose a confidence threshold?",
        {"a": "dev", "b": "valid", "c": "test", "d": "canary"},
        "b",
        {"a": "the LFs were written while looking at dev, so its precision flatters them",
         "b": "valid is held out from LF writing and is the split for tuning thresholds and models",
         "c": "choosing on test makes the final test number optimistic: it is no longer a verdict",
         "d": "the canary is touched once, as the export gate; tuning on it spends it"}),
    "split_for_stopping": Question(
        "Which split decides when self-training stops (early stopping)?",
        {"a": "the seeds", "b": "valid", "c": "test", "d": "the pseudo-labels themselves"},
        "b",
        {"a": "the seeds are trained on; they cannot tell you whether the model generalises",
         "b": "a clean split that is not trained on, kept for tuning: valid",
         "c": "stopping on test turns the verdict into a choice",
         "d": "the pseudo-labels agree with the model that made them: they never warn of a snowball"}),
    "split_for_temperature": Question(
        "Which split should choose the distillation temperature?",
        {"a": "the pool (the transfer set)", "b": "valid", "c": "test"},
        "b",
        {"a": "the pool's labels are the teacher's own: the student mimicking them says nothing about the truth",
         "b": "a clean split kept for tuning: the choice is made there and test stays a verdict",
         "c": "a temperature picked on test makes its test score optimistic"}),
    "weakest_end_model": Question(
        "Why is notebook 06's end model weaker than the ones in 00, 05 and 08?",
        {"a": "it is trained on the dev set",
         "b": "it learns Snorkel's soft labels of every covered row as they are, with no seed labels, no threshold and "
              "no choice made on valid; on these LFs those labels are skewed (notebook 05)",
         "c": "it is evaluated on the canary set"},
        "b",
        {"a": "nothing in 06 is trained on dev (nor on valid, test or canary)",
         "b": "06 keeps the end model deliberately plain to show evaluation; 05 shows what the choices it skips are worth",
         "c": "it is evaluated on test; the canary only gates export"}),
    "reproduce_first_step": Question(
        "After one LF's source changes, which step does `reproduce` name first?",
        {"a": "inputs", "b": "lfs", "c": "export", "d": "evaluation"},
        "b",
        {"a": "the data files did not change, so their hashes match",
         "b": "the LF step hashes each LF's source: the edited LF differs first, and later steps differ because of it",
         "c": "the export differs too, but only as a consequence of the LF change",
         "d": "evaluation comes last; reproduce names the first step that differs"}),
    "review_answers_selected": Question(
        "The review loop refits the label model with the answers passed as `selected`. Why?",
        {"a": "there are too few answers to count",
         "b": "the queue chose the rows the model was least sure of, where the LFs err most: counted as a sample of the "
              "pool, they would make every LF look worse than it is",
         "c": "human answers are less reliable than LF votes",
         "d": "so that the end model does not train on them"},
        "b",
        {"a": "a few answers count: each selected row is held at its answer; they only do not stand for the whole pool",
         "b": "a sample chosen for its difficulty is not a sample of the pool: as anchors, 25 answers cut the label "
              "model's test accuracy from 0.89 to 0.74 on the bundled LFs; held at their answers alone, they do no harm",
         "c": "the answers are the best labels there are; the question is what they say about the rest of the pool",
         "d": "the end model does train on them, as human rows weighted seed_weight"}),
    "review_on_test": Question(
        "Why is a review queue built on the test split refused?",
        {"a": "test rows are already labeled, so reviewing them is wasted",
         "b": "an answer becomes a seed label the end model trains on: the test set would no longer be held out",
         "c": "the widget cannot show test rows"},
        "b",
        {"a": "auditing test labels is a legitimate job, but in a separate store that never feeds training",
         "b": "harvested answers are training rows; a test row among them turns the verdict into training data",
         "c": "the widget shows any row; the guard is what refuses them"}),
}


def check_choice(question: str, answer: str | None) -> Feedback:
    """Check a multiple-choice answer (a letter) to ``QUESTIONS[question]``; says why either way."""
    if question not in QUESTIONS:
        raise KeyError(f"no question {question!r}; questions are {sorted(QUESTIONS)}")
    q = QUESTIONS[question]
    if answer is None:
        return unanswered(question, q.prompt + " " + "; ".join(f"{k}) {v}" for k, v in q.options.items()))
    letter = str(answer).strip().lower().rstrip(")")
    if letter not in q.options:
        return Feedback(question, False, f"{answer!r} is not one of the options {sorted(q.options)}.")
    return Feedback(question, letter == q.correct, q.why[letter] + ".")
