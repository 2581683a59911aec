/// Words that are safe wherever Flock passes them on unquoted: into the fixed remote command that
/// sshd hands to the host's shell, and into ssh's own arguments. The SSH target checks them before
/// connecting, and flockd's config refuses anything else with a located error.
public enum PlainArgument {
    /// A user or host name (an address included): letters, digits and `._-:`; not empty.
    public static func isWord(_ text: some StringProtocol) -> Bool {
        !text.isEmpty
            && text.unicodeScalars.allSatisfy {
                ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
                    || "._-:".unicodeScalars.contains($0)
            }
    }

    /// A path: letters, digits and `/._-`; not empty.
    public static func isPath(_ text: some StringProtocol) -> Bool {
        !text.isEmpty
            && text.unicodeScalars.allSatisfy {
                ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
                    || "/._-".unicodeScalars.contains($0)
            }
    }
}
