"""Official NB201 file formats (filled in by the official-formats work)."""
READERS = {}


def file_names(dataset):
    return []


def detect_format(path):
    return None
