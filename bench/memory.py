"""Peak memory per stage: the process's peak RSS on the CPU (Linux, reset through
/proc/self/clear_refs), the allocator's peak on a CUDA device."""
import torch


def reset_peak(device: torch.device):
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    else:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS


def peak_bytes(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def peak_label(device: torch.device) -> str:
    return "cuda max allocated" if device.type == "cuda" else "peak RSS"
