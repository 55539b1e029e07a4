"""scikit-learn on the exact split mlstack trained on (train.csv / test.csv written by bench/lib/adult-split.ts).

  python3 sklearn_adult.py quality  <dir> <target> <positive> <categorical,...>   -> AUCs of HGB, LogisticRegression, MLP
  python3 sklearn_adult.py fit-time <dir> <target> <positive> <categorical,...> <trees> <leaves> <bins>  -> HGB fit seconds
Prints one JSON object.
"""
import json
import sys
import time

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler


def load(folder, target, positive, categorical):
    train = pd.read_csv(f"{folder}/train.csv", skipinitialspace=True)
    test = pd.read_csv(f"{folder}/test.csv", skipinitialspace=True)
    y_train = (train.pop(target).astype(str).str.strip() == positive).astype(int)
    y_test = (test.pop(target).astype(str).str.strip() == positive).astype(int)
    return train, y_train, test, y_test


def hgb(categorical, columns, **kw):
    enc = ColumnTransformer([("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan), [c for c in columns if c in categorical])], remainder="passthrough", verbose_feature_names_out=False)
    ordered = [c for c in columns if c in categorical] + [c for c in columns if c not in categorical]
    mask = [c in categorical for c in ordered]
    return make_pipeline(enc, HistGradientBoostingClassifier(categorical_features=mask, random_state=42, **kw))


def one_hot(categorical, columns, model):
    enc = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), [c for c in columns if c in categorical])], remainder=StandardScaler())
    return make_pipeline(enc, model)


def main():
    mode, folder, target, positive, cats = sys.argv[1:6]
    categorical = set(cats.split(","))
    x, y, xt, yt = load(folder, target, positive, categorical)
    cols = list(x.columns)
    if mode == "quality":
        out = {}
        models = {
            "hist_gradient_boosting": hgb(categorical, cols),
            "logistic_regression": one_hot(categorical, cols, LogisticRegression(max_iter=2000)),
            "mlp_128": one_hot(categorical, cols, MLPClassifier(hidden_layer_sizes=(128,), early_stopping=True, random_state=42, max_iter=200)),
        }
        for name, model in models.items():
            start = time.perf_counter()
            model.fit(x, y)
            out[name] = {"auc": roc_auc_score(yt, model.predict_proba(xt)[:, 1]), "fit_s": time.perf_counter() - start}
        print(json.dumps(out))
        return
    trees, leaves, bins = (int(v) for v in sys.argv[6:9])
    times = []
    for _ in range(3):
        model = hgb(categorical, cols, max_iter=trees, max_leaf_nodes=leaves, max_bins=bins, early_stopping=False, learning_rate=0.1)
        start = time.perf_counter()
        model.fit(x, y)
        times.append(time.perf_counter() - start)
    print(json.dumps({"fit_s": sorted(times)[1], "auc": roc_auc_score(yt, model.predict_proba(xt)[:, 1])}))


if __name__ == "__main__":
    main()
