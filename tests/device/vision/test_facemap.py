import numpy as np

from device.vision import facemap


def test_map_takes_single_points_and_averages_pairs():
    pts = np.arange(478 * 2, dtype=np.float32).reshape(478, 2)
    out = facemap.mp478_to_68(pts)
    assert out.shape == (68, 2)
    assert np.allclose(out[0], pts[127])
    assert np.allclose(out[3], (pts[132] + pts[58]) / 2)
    assert np.allclose(out[27], (pts[168] + pts[6]) / 2)
    assert np.allclose(out[36], pts[33]) and np.allclose(out[45], pts[263])
    # the matmul form agrees with the gather form
    assert np.allclose(facemap.MP_TO_68_MATRIX @ pts, out)


def test_map_rejects_short_input():
    try:
        facemap.mp478_to_68(np.zeros((10, 2)))
    except ValueError as exc:
        assert "468" in str(exc)
    else:
        raise AssertionError("expected ValueError")


def test_organs_partition_the_68_points():
    idx = sorted(i for g in facemap.ORGANS.values() for i in g)
    assert idx == list(range(68))
    assert len(facemap.ORGANS) == 9


def test_regions_keep_the_papers_eye_corner_anchors():
    assert len(facemap.REGIONS) == 16
    assert facemap.RIGHT_EYE_OUTER in facemap.REGIONS[5][1]
    assert facemap.LEFT_EYE_OUTER in facemap.REGIONS[8][1]
    assert facemap.RIGHT_EYE_INNER in facemap.REGIONS[6][1]
    assert facemap.LEFT_EYE_INNER in facemap.REGIONS[7][1]
    # every point of the face belongs to some region except the upper jaw line and its ends
    covered = {i for _, g in facemap.REGIONS.values() for i in g}
    assert covered >= set(range(17, 68))


def test_region_and_organ_means_are_group_averages():
    per_point = np.zeros(68, np.float32)
    per_point[list(facemap.REGIONS[5][1])] = 3.0
    r = facemap.region_means(per_point)
    assert r[4] == 3.0 and r[7] == 0.0
    o = facemap.organ_means(np.arange(68, dtype=np.float32))
    assert o[0] == np.mean(range(17))
