"""Writes notebooks/00_quickstart.ipynb (run once by a developer; the notebook is the artifact)."""
import nbformat as nbf

md, code = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell
cells = [
md("""# 00 · Quickstart: the whole synthetic-labels loop once

We will train a YouTube comment spam classifier **without using a single training label written by a human**.
Humans labeled only a small *dev* set (to write and check rules), a tiny *seed* set (60 comments we may train on) and a clean *test* set (to tell the truth at the end).

The loop: **write labeling functions → combine their votes with a label model → keep the confident labels → train an end model → evaluate on clean data → export with lineage.**"""),
code("""import numpy as np
import pandas as pd
from workbench import ABSTAIN, load_youtube_spam
from workbench.lf import keyword_lf, regex_lf, vectorized_lf
from snorkel.labeling import labeling_function

ds = load_youtube_spam()
ds"""),
md("""`train` is the unlabeled pool (its labels are hidden away and used only to measure label quality), `dev` is for writing LFs, `seed` may be trained on, `test` and `canary` are for the verdict and are never trained on.
Labels: 0 = ham (a real comment), 1 = spam."""),
code("""ds.dev[["text", "label"]].sample(6, random_state=1)"""),
md("""## 1. Write labeling functions

A labeling function (LF) looks at one example and votes a label, or **abstains** (`ABSTAIN = -1`) when it has no opinion.
LFs are allowed to be noisy and to disagree: the label model sorts that out.
Keyword and regex LFs come from builders and run vectorized over the whole table:"""),
code("""HAM, SPAM = 0, 1
lfs = [
    keyword_lf("kw_my", ["my"], SPAM),                                   # "check out MY channel"
    keyword_lf("kw_subscribe", ["subscribe", "sub", "subscribers"], SPAM),
    keyword_lf("kw_link", ["http", "https", "www", ".com"], SPAM, whole_word=False),
    keyword_lf("kw_please", ["please", "plz", "pls"], SPAM),
    keyword_lf("kw_money", ["money", "cash", "earn", "free", "win", "gift card"], SPAM),
    keyword_lf("kw_song", ["song", "songs"], HAM),                       # people talking about the music
    keyword_lf("kw_love", ["love", "best", "beautiful", "amazing", "awesome"], HAM),
    regex_lf("re_check_out", r"check.*out", SPAM),
    regex_lf("re_views", r"\\b(?:\\d+\\s*(?:billion|million|m|b)\\b|views?)", HAM),
]"""),
md("""Heuristics can be vectorized (a function of the whole DataFrame) or row-wise, exactly as in Snorkel (`@labeling_function`):"""),
code("""@vectorized_lf(labels=[HAM])
def short_comment(df):
    return np.where(df["text"].str.split().str.len() < 5, HAM, ABSTAIN)

@labeling_function()
def shouting(x):
    letters = [c for c in x.text if c.isalpha()]
    if len(letters) >= 10 and sum(c.isupper() for c in letters) / len(letters) > 0.6 and "!" in x.text:
        return SPAM
    return ABSTAIN

lfs += [short_comment, shouting]
len(lfs)"""),
md("""## 2. Apply them and look at what they do

`apply_lfs` gives the **label matrix** `L`: one row per example, one column per LF. The summary has Snorkel's columns;
with the dev labels it also shows each LF's accuracy."""),
code("""from workbench.apply import apply_lfs
from workbench.analysis import lf_summary, overlap_matrix, conflict_matrix, total_coverage, conflict_rate

L_train, L_dev, L_test = (apply_lfs(ds[s], lfs) for s in ("train", "dev", "test"))
print(f"coverage {total_coverage(L_train):.1%}, rows with a conflict {conflict_rate(L_train):.1%}")
lf_summary(L_dev, lfs, Y=ds.dev.label)"""),
code("""from workbench import plots
plots.lf_summary_bars(lf_summary(L_dev, lfs, Y=ds.dev.label)).show()
plots.matrix_heatmap(conflict_matrix(L_train, lfs), "Conflicts (share of pool rows where both vote and disagree)", "Reds").show()"""),
md("""## 3. Combine the votes: majority vote vs the label model

Snorkel's `LabelModel` learns how accurate each LF is from their agreements, without labels. It does not always win:
the health check compares it with plain majority vote on the dev set, tells us which one to use, and flags LFs it finds suspicious."""),
code("""from workbench.labelmodel import MajorityVote, SnorkelLabelModel, health_check

label_model = SnorkelLabelModel(cardinality=2).fit(L_train)
report = health_check(L_train, L_dev, ds.dev.label, lfs, label_model=label_model)
print(report)
report.scores"""),
code("""generator = label_model if report.chosen == "label_model" else MajorityVote().fit(L_train)
probs = generator.predict_proba(L_train)
type(generator).__name__"""),
md("""## 4. Keep the confident labels, drop anything that leaks

Rows no LF covers carry no information, and rows where the votes are split are coin flips. We keep rows with a vote and a top probability of at least 0.7.
(Notebook 02 explores this threshold interactively.)
The pool also repeats some comments of the protected sets word for word ("Nice song"): training on them would flatter the test score, so they go too (notebook 06 explains the check)."""),
code("""from workbench.evaluate import check_leakage

leaks = check_leakage(ds.train, protected=ds)
threshold = 0.7
keep = (L_train != ABSTAIN).any(axis=1) & (probs.max(axis=1) >= threshold) & ~ds.train.example_id.isin(leaks.leaked_ids).to_numpy()
hidden = ds.gold("train")  # peeking is allowed only to measure label quality, never to train
print(f"kept {keep.sum()} of {len(keep)} rows; accuracy of the kept synthetic labels: {(probs[keep].argmax(1) == hidden[keep]).mean():.3f}")
plots.confidence_histogram(probs[(L_train != ABSTAIN).any(axis=1)], threshold=threshold).show()"""),
md("""## 5. Train the end model on the probabilistic labels

The end model (TF-IDF + logistic regression) learns from the **soft** labels: each row counts for each class in proportion to its probability.
The small hand-labeled seed set is mixed in (never the dev or test set). The end model generalises beyond the LFs: it also labels comments no LF fires on."""),
code("""from workbench.learner import train_end_model, one_hot

texts = pd.concat([ds.train.text[keep], ds.seed.text])
targets = np.vstack([probs[keep], one_hot(ds.seed.label, 2)])
end_model = train_end_model(texts, targets)"""),
md("""## 6. Tell the truth on the clean test set"""),
code("""y_test = ds.test.label.to_numpy()
lm_test = generator.predict(L_test, tie_break="random")
results = pd.Series({
    "label model (LFs only)": (lm_test == y_test).mean(),
    "end model": (end_model.predict(ds.test.text) == y_test).mean(),
}, name="test accuracy")
results.round(3)"""),
md("""## 7. Export the curated training set

The curated set (ids, text, synthetic label, its probability, the LF votes) goes to `out/` as Parquet. Notebook 08 adds the lineage manifest."""),
code("""from workbench.paths import out_dir

curated = ds.train.loc[keep, ["example_id", "text"]].assign(
    label=probs[keep].argmax(1), probability=probs[keep].max(1), source=type(generator).__name__,
)
curated = pd.concat([curated, pd.DataFrame(L_train[keep], columns=[f"vote:{lf.name}" for lf in lfs], index=curated.index)], axis=1)
path = out_dir() / "quickstart_curated.parquet"
curated.to_parquet(path)
print(f"wrote {len(curated)} rows to {path}")"""),
code("""print(f"Label model test accuracy: {results['label model (LFs only)']:.3f}")
print(f"End model test accuracy:   {results['end model']:.3f}")"""),
md("""Snorkel's spam tutorial lands a little above 0.9 test accuracy with its end model on this data; compare with the numbers above.
Next: **01 · labeling functions** opens the live LF studio."""),
]
nb = nbf.v4.new_notebook(cells=cells)
nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
nb.metadata["language_info"] = {"name": "python"}
nbf.write(nb, "notebooks/00_quickstart.ipynb")
