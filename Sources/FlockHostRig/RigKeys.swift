import Foundation

/// The SSH client key the rig's hosts accept: one ed25519 key without a passphrase, made fresh
/// for one run in `directory` (ssh-keygen writes it 0600), never an operator's own key.
public struct RigKeys: Sendable {
    public let directory: String
    public var identity: String { "\(directory)/id_ed25519" }

    public init(directory: String) async throws {
        self.directory = directory
        try await RigTool.run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "flock-rig", "-f", identity])
    }

    /// The `authorized_keys` line's key part.
    public var publicKey: String {
        get throws {
            try String(contentsOfFile: identity + ".pub", encoding: .utf8).trimmingCharacters(
                in: .whitespacesAndNewlines)
        }
    }
}
