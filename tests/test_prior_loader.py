"""The toy prior loader takes no free path: the bundled prior or a prior in the host's
registered models folder (folder_paths' dragnext_priors), by name; old workflows' empty
directory is the bundled prior; a path is refused before any file is looked at."""
import builtins
import json
import os

import pytest
import torch

from harness.client import PromptRejected
from proof.pack import host_on_cpu, pack_module

host_on_cpu()

import folder_paths  # noqa: E402

from proof import prior  # noqa: E402

loader_module = pack_module("nodes.prior_loader")
Loader = loader_module.DragNeXtToyPriorLoader
BUNDLED = loader_module.BUNDLED
PATH_VALUES = [
    prior.DEFAULT_DIR,                                 # exists and holds a prior
    os.path.join(prior.DEFAULT_DIR, "config.json"),
    "/etc", "../models/toy_prior", "toy_prior/..", "./toy_prior", "~/priors", "C:\\priors", "\\\\server\\share",
]


@pytest.fixture
def priors_folder(tmp_path):
    """A second registered dragnext_priors folder holding one prior, 'mine' (the bundled
    weights, linked), registered through the host's own API and removed afterwards."""
    root = tmp_path / "dragnext_priors"
    (root / "mine").mkdir(parents=True)
    config = prior.load_config()
    (root / "mine" / "config.json").write_text(json.dumps(config))
    (root / "mine" / config["weights"]).symlink_to(os.path.join(prior.DEFAULT_DIR, config["weights"]))
    (root / "not_a_prior").mkdir()
    (root / "not_a_prior" / "notes.json").write_text("{}")
    folder_paths.add_model_folder_path(loader_module.PRIORS_FOLDER, str(root))
    yield root
    folder_paths.folder_names_and_paths[loader_module.PRIORS_FOLDER][0].remove(str(root))


def combo(schema_input_id="directory"):
    return next(i for i in Loader.define_schema().inputs if i.id == schema_input_id)


def test_the_models_folder_is_registered_with_the_host():
    paths, extensions = folder_paths.folder_names_and_paths[loader_module.PRIORS_FOLDER]
    assert os.path.join(folder_paths.models_dir, "dragnext_priors") in paths
    assert ".json" in extensions


def test_the_combo_offers_the_bundled_prior_and_the_priors_in_the_registered_folder(priors_folder):
    box = combo()
    assert box.default == BUNDLED and box.options[0] == BUNDLED
    assert "mine" in box.options and "not_a_prior" not in box.options
    assert Loader.validate_inputs("mine") is True


def test_a_prior_in_the_registered_folder_loads_by_name_as_host_objects(priors_folder):
    import comfy.model_patcher
    import comfy.sd
    model, vae, cond = Loader.execute("mine").result
    assert isinstance(model, comfy.model_patcher.ModelPatcher) and isinstance(vae, comfy.sd.VAE)
    bundled = Loader.execute(BUNDLED).result[0].model.diffusion_model.state_dict()
    mine = model.model.diffusion_model.state_dict()
    assert mine.keys() == bundled.keys() and all(torch.equal(mine[k], bundled[k]) for k in mine)


def test_old_workflows_empty_directory_is_the_bundled_prior():
    assert Loader.validate_inputs("") is True
    assert loader_module.resolve("") == loader_module.resolve(BUNDLED) == prior.DEFAULT_DIR


@pytest.mark.parametrize("value", PATH_VALUES)
def test_a_path_is_refused_without_touching_the_file_system(value, monkeypatch):
    touched = []

    def no_file_access(name):
        def refuse(*args, **kwargs):
            touched.append((name, args))
            raise AssertionError(f"{name}{args}: the loader looked at the file system")
        return refuse

    with monkeypatch.context() as m:
        for module, name in [(os.path, "isfile"), (os.path, "isdir"), (os.path, "exists"), (os.path, "islink"),
                             (os.path, "getmtime"), (os, "stat"), (os, "lstat"), (os, "listdir"), (os, "scandir"),
                             (os, "walk"), (builtins, "open"), (folder_paths, "get_filename_list")]:
            m.setattr(module, name, no_file_access(f"{module.__name__}.{name}"))
        message = Loader.validate_inputs(value)
        with pytest.raises(ValueError, match="is a path") as raised:
            Loader.execute(value)
    assert not touched
    assert isinstance(message, str) and "is a path" in message and str(raised.value) == message


def test_an_unlisted_name_is_refused_the_same_whether_or_not_it_exists(priors_folder):
    # 'toy_prior' exists beside the pack, but not in a registered folder.
    for name in ("toy_prior", "no_such_prior", "not_a_prior"):
        message = Loader.validate_inputs(name)
        assert message == f"directory: no prior named {name!r} under models/dragnext_priors/; choose " \
                          f"'{BUNDLED}' or one of ['mine']"


def test_the_server_refuses_a_graph_naming_a_path_and_lists_the_bundled_prior(client):
    info = client.get("/object_info/DragNeXtToyPriorLoader")["DragNeXtToyPriorLoader"]
    options = info["input"]["optional"]["directory"]
    assert BUNDLED in options[1]["options"]
    graph = {"1": {"class_type": "DragNeXtToyPriorLoader", "inputs": {"directory": prior.DEFAULT_DIR}},
             "2": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["1", 1]}},
             "3": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
             "4": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}}}
    with pytest.raises(PromptRejected) as rejected:
        client.queue(graph)
    errors = json.dumps(rejected.value.body["node_errors"])
    assert "is a path" in errors and "no config.json" not in errors
