"""client-examples/python/coco_roundtrip.py, run as an integrator would against a real
`stepwise serve`: imports a COCO file with upload progress, launches, downloads the export."""

import json
import subprocess
import sys

from tests.conftest import ROOT

SCRIPT = ROOT / "client-examples" / "python" / "coco_roundtrip.py"


def coco_file(path, images: int) -> None:
    document = {
        "images": [{"id": i, "file_name": f"street/{i:04d}.jpg", "width": 640, "height": 480} for i in range(images)],
        "categories": [{"id": 1, "name": "car"}, {"id": 2, "name": "person"}],
        "annotations": [{"id": i, "image_id": i, "category_id": 1 + i % 2, "bbox": [10, 20, 100.5, 50]} for i in range(images)]
        + [{"id": images, "image_id": 0, "category_id": 2, "segmentation": [[1, 1, 30, 1, 15, 20]], "bbox": [1, 1, 29, 19]}],
    }
    path.write_text(json.dumps(document))


def run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_the_coco_round_trip_script_imports_launches_and_exports(live_server, tmp_path):
    source, output = tmp_path / "street.coco.json", tmp_path / "export.coco.json"
    coco_file(source, 300)
    result = run_script("--url", f"{live_server}/graphql", "--file", str(source), "--output", str(output))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "imported 300 images (300 annotated, 301 shapes)" in result.stdout
    assert "launched: the campaign is ONGOING with 300 tasks" in result.stdout
    assert "exported 300 images and 301 annotations" in result.stdout
    assert "uploading [" in result.stderr and "100.0%" in result.stderr  # the upload's progress bar
    exported = json.loads(output.read_text())
    original = json.loads(source.read_text())
    assert [i["file_name"] for i in exported["images"]] == [i["file_name"] for i in original["images"]]
    assert exported["annotations"][1]["segmentation"] == [[1, 1, 30, 1, 15, 20]]


def test_a_refused_file_is_explained_and_exits_1(live_server, tmp_path):
    source = tmp_path / "bad.coco.json"
    source.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.jpg", "width": 10, "height": 10}],
                                  "categories": [{"id": 1, "name": "car"}],
                                  "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [5, 5, 10, 1]}]}))
    result = run_script("--url", f"{live_server}/graphql", "--file", str(source), "--output", str(tmp_path / "out.json"))
    assert result.returncode == 1
    assert ("error: the import was refused, nothing was added: INVALID_INPUT: "
            "annotations[0].bbox: the box [5, 5, 10, 1] is outside the image (10x10).") in result.stderr
    assert "Traceback" not in result.stderr
