"""An API keys file with one key per role (and two agents), for service tests with auth on."""

from __future__ import annotations

from pathlib import Path

KEYS = {
    "submitter": "test-submitter-key",
    "agent": "test-agent-alice-key",
    "lead": "test-lead-key",
    "admin": "test-admin-key",
}
"""Role -> the plain key of that role; the agent key belongs to agent `alice`."""

AGENT_OF_AGENT_KEY = "alice"
OTHER_AGENT_KEY = "test-agent-bob-key"
"""A second agent key, of agent `bob`."""


def write_keys_file(directory: Path) -> Path:
    """Write the keys above as a TOML keys file (the `api_keys_file` setting); returns its path.

    `submitter`, `lead` and `admin` are stored by SHA-256 digest, the agents by plain key, so
    both forms of the file are exercised.
    """
    import hashlib

    def digest(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    path = directory / "api-keys.toml"
    path.write_text(
        "\n".join([
            "[[keys]]", 'name = "helpdesk"', f'sha256 = "{digest(KEYS["submitter"])}"',
            'role = "submitter"', "",
            "[[keys]]", 'name = "alice-desktop"', f'key = "{KEYS["agent"]}"', 'role = "agent"',
            f'agent_id = "{AGENT_OF_AGENT_KEY}"', "",
            "[[keys]]", 'name = "bob-desktop"', f'key = "{OTHER_AGENT_KEY}"', 'role = "agent"',
            'agent_id = "bob"', "",
            "[[keys]]", 'name = "support-lead"', f'sha256 = "{digest(KEYS["lead"])}"',
            'role = "lead"', "",
            "[[keys]]", 'name = "ops"', f'sha256 = "{digest(KEYS["admin"])}"', 'role = "admin"',
            "",
        ])
    )
    return path
