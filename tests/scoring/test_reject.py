"""Reject inference: weights that stand in for the declined, parcels drawn at prudent band rates."""

from __future__ import annotations

import numpy as np
import pytest

from creditmesh.errors import ParameterError, SchemaError
from creditmesh.scoring.reject import augment, parcel, training_set


@pytest.fixture(scope="module")
def through_the_door(credit):
    X, y = credit
    approved = (X.utilisation.to_numpy() < 0.55) | (X.age.to_numpy() > 50)  # a policy that declines the risky
    return X, y, approved


def test_augmentation_weights_the_approved_who_look_declined_more(through_the_door):
    X, y, approved = through_the_door
    training = augment(X, y, approved)
    assert len(training.X) == approved.sum()
    assert training.weight.mean() == pytest.approx(1.0)
    borderline = training.X.utilisation.to_numpy() > 0.5  # close to the declined region
    assert training.weight[borderline].mean() > training.weight[~borderline].mean()


def test_parcelling_adds_every_declined_with_prudent_outcomes(through_the_door):
    X, y, approved = through_the_door
    training = parcel(X, y, approved, prudence=1.5, seed=1)
    assert len(training.X) == len(X)
    declined_rate = training.y[approved.sum() :].mean()
    assert declined_rate > y[approved].mean()
    np.testing.assert_array_equal(training.y[: approved.sum()], y[approved])
    again = parcel(X, y, approved, prudence=1.5, seed=1)
    np.testing.assert_array_equal(again.y, training.y)


def test_bad_input_is_named(through_the_door):
    X, y, approved = through_the_door
    with pytest.raises(SchemaError, match="approved"):
        augment(X, y, np.ones(len(X), dtype=bool))
    with pytest.raises(SchemaError, match="approved"):
        parcel(X, y, approved[:10])
    with pytest.raises(ParameterError, match="prudence"):
        parcel(X, y, approved, prudence=0)


def test_the_training_set_is_the_approved_alone_or_with_a_correction(through_the_door):
    X, y, approved = through_the_door
    plain = training_set(X, y, approved)
    assert len(plain.X) == approved.sum() and plain.weight is None
    np.testing.assert_array_equal(plain.y, y[approved])
    unread = np.where(approved, y, np.nan)  # the declined's outcomes are never read
    corrected = training_set(X, unread, approved, reject_inference="parcel")
    np.testing.assert_array_equal(corrected.y, parcel(X, y, approved).y)
    with pytest.raises(ParameterError, match="reject_inference: must be augment or parcel"):
        training_set(X, y, approved, reject_inference="guess")
