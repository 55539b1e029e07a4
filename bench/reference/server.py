"""The seeds' reference serving design, for bench/serve.ts to measure beside ours.

FastAPI + uvicorn + scikit-learn, as in the seed: a sync endpoint that builds a pandas DataFrame
from the request, applies the fitted preprocessor and calls predict/predict_proba of an MLP with
the same hidden layers as our model (64, 64) on the adult data set.

Run with the Debian packages (not a virtualenv):
  apt-get install -y python3-fastapi python3-uvicorn python3-sklearn python3-pandas
  /usr/bin/python3 bench/reference/server.py <adult.csv> <port>
"""
import sys
import warnings

import pandas as pd
import uvicorn
from fastapi import Body, FastAPI
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import OneHotEncoder, StandardScaler

TARGET = "income"
TRAIN_ROWS = 5000  # training size does not change inference cost; keeps startup short


def fit(csv_path):
    data = pd.read_csv(csv_path, skipinitialspace=True)
    features = [c for c in data.columns if c != TARGET]
    categorical = [c for c in features if data[c].dtype == object]
    numeric = [c for c in features if c not in categorical]
    preprocessor = ColumnTransformer(
        [("num", StandardScaler(), numeric), ("cat", OneHotEncoder(handle_unknown="ignore"), categorical)]
    )
    sample = data.sample(n=min(TRAIN_ROWS, len(data)), random_state=42)
    x = preprocessor.fit_transform(sample[features])
    model = MLPClassifier(hidden_layer_sizes=(64, 64), max_iter=20, random_state=42)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x, sample[TARGET])
    return features, preprocessor, model


features, preprocessor, model = fit(sys.argv[1])
app = FastAPI()


@app.get("/ping")
def ping():
    return {"status": "ready"}


@app.post("/predict")
def predict(body: dict = Body(...)):
    rows = body["instances"] if "instances" in body else [body]
    frame = pd.DataFrame(rows, columns=features)
    processed = preprocessor.transform(frame)
    labels = model.predict(processed)
    probabilities = model.predict_proba(processed)
    classes = [str(c) for c in model.classes_]
    return {
        "predictions": [
            {"prediction": str(label), "probabilities": dict(zip(classes, map(float, probs)))}
            for label, probs in zip(labels, probabilities)
        ],
        "model_version": "1.0.0",
    }


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
