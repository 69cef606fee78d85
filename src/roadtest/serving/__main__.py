"""``python -m roadtest.serving``: make a new API key and print the digest to configure."""

from roadtest.serving.keys import hash_api_key, new_api_key


def main() -> None:
    """Print a new key (for the client) and its digest (for the settings)."""
    key = new_api_key()
    print(f"key (give it to the client; it is shown only now): {key}")
    print(f"digest (add to ROADTEST_API_KEY_HASHES or ..._READ_KEY_HASHES): {hash_api_key(key)}")


if __name__ == "__main__":
    main()
