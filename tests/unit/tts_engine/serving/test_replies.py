"""What the decoupled Triton model sends for each outcome (tts_engine/serving/replies.py)."""

import numpy as np

from tts_contract.errors import ErrorKind, decode_error
from tts_engine.clone.prompt import ClonePrompt
from tts_engine.errors import RequestError
from tts_engine.requests import is_probe
from tts_engine.scheduling.loop import LoopStoppedError
from tts_engine.serving.replies import owned, probe_reply, reply


def test_audio_chunk_and_final_carry_audio_and_rate_with_a_batch_dimension():
    chunk = reply(np.ones(1920, np.float64), final=False, num_code_groups=0)
    assert not chunk.final and chunk.error is None
    assert chunk.outputs["AUDIO"].shape == (1, 1920) and chunk.outputs["AUDIO"].dtype == np.float32
    assert chunk.outputs["SAMPLE_RATE"].tolist() == [[24000]]
    rest = reply(np.zeros(0, np.float32), final=True, num_code_groups=0)  # everything went out in chunks
    assert rest.final and rest.outputs["AUDIO"].shape == (1, 0)


def test_clone_prompt_becomes_its_two_tensors():
    prompt = ClonePrompt(ref_code=None, spk_embedding=np.ones(8, np.float32))
    answer = reply(prompt, final=True, num_code_groups=4)
    assert set(answer.outputs) == {"REF_CODE", "REF_SPK_EMBEDDING"}
    assert answer.outputs["REF_CODE"].shape == (1, 0, 4) and answer.outputs["REF_SPK_EMBEDDING"].shape == (1, 8)


def test_request_errors_are_marked_invalid_and_others_internal():
    bad = reply(RequestError("SPEAKER 'x' is not supported"), final=True, num_code_groups=0)
    assert bad.invalid and not bad.outputs and bad.error is not None
    decoded = decode_error(bad.error)
    assert decoded is not None and decoded.kind is ErrorKind.INVALID_ARGUMENT
    assert decoded.message == "SPEAKER 'x' is not supported"
    failed = reply(RuntimeError("generation failed: OutOfMemoryError"), final=True, num_code_groups=0)
    assert not failed.invalid and failed.error is not None
    internal = decode_error(failed.error)
    assert internal is not None and internal.kind is ErrorKind.INTERNAL
    assert internal.message == "generation failed: OutOfMemoryError"
    unnamed = decode_error(reply(RuntimeError(), final=True, num_code_groups=0).error or "")
    assert unnamed is not None and unnamed.message == "RuntimeError"


def test_inputs_are_copied_off_the_request():
    source = np.arange(4, dtype=np.float32)
    copy = owned(source)
    source[:] = 0
    assert copy is not None and copy.tolist() == [0, 1, 2, 3]
    assert owned(None) is None


def test_a_probe_is_answered_with_the_sample_rate_or_unhealthy():
    alive = probe_reply(loop_alive=True)
    assert alive.final and alive.error is None and alive.outputs["SAMPLE_RATE"].tolist() == [[24000]]
    dead = probe_reply(loop_alive=False)
    decoded = decode_error(dead.error or "")
    assert dead.final and decoded is not None and decoded.kind is ErrorKind.UNHEALTHY
    stopped = decode_error(reply(LoopStoppedError("gone"), final=True, num_code_groups=0).error or "")
    assert stopped is not None and stopped.kind is ErrorKind.UNHEALTHY


def test_probe_flag_is_read_from_the_tensors():
    assert is_probe({"PROBE": np.array([[True]])})
    assert not is_probe({"PROBE": np.array([[False]])}) and not is_probe({"TEXT": np.array([[b"x"]], object)})
    assert not is_probe({"PROBE": np.array([[True, True]])})  # malformed: not a probe, the parser refuses it
