"""Stand-in for google.colab.drive: "mounts" the folder $FAKECOLAB_DRIVE as MOUNTPOINT/MyDrive."""
import os
from pathlib import Path


def mount(mountpoint, force_remount=False, timeout_ms=120000, readonly=False):
    mountpoint = Path(os.path.expanduser(str(mountpoint)))
    my_drive = mountpoint / "MyDrive"
    if my_drive.is_symlink() and not force_remount:
        print(f"Drive already mounted at {mountpoint}; to attempt to forcibly remount, call "
              f"drive.mount(\"{mountpoint}\", force_remount=True).")
        return
    if mountpoint.exists() and any(mountpoint.iterdir()) and not my_drive.is_symlink():
        raise ValueError("Mountpoint must not already contain files")
    source = os.environ.get("FAKECOLAB_DRIVE")
    if not source or not os.path.isdir(source):
        raise ValueError("mount failed: the stand-in needs FAKECOLAB_DRIVE, a folder playing My Drive")
    mountpoint.mkdir(parents=True, exist_ok=True)
    if my_drive.is_symlink():
        my_drive.unlink()
    my_drive.symlink_to(source, target_is_directory=True)
    print(f"Mounted at {mountpoint}")


def flush_and_unmount(timeout_ms=24 * 3600 * 1000):
    """Nothing is cached locally, so there is nothing to flush."""
