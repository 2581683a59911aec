/// The `127.0.1.1` line of `/etc/hosts`, which Debian maps to the machine's own hostname (the
/// Debian Reference's "The hostname resolution"): a clone that took a new hostname but kept the
/// parent's line would resolve its own name nowhere (`hostname -f`, sudo, mail daemons).
public enum HostsFile {
    public static let path = "/etc/hosts"

    /// `text` with the names of its `127.0.1.1` line replaced by `hostname`; nil when there is
    /// no such line (the image does not use the convention, so nothing is added) or it already
    /// names only `hostname`. Other lines, comments and the line's own comment are kept.
    public static func renaming(_ text: String, to hostname: String) -> String? {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard
            let index = lines.firstIndex(where: {
                $0.split(whereSeparator: { $0 == " " || $0 == "\t" }).first == "127.0.1.1"
            })
        else { return nil }
        let comment = lines[index].firstIndex(of: "#").map { " " + lines[index][$0...] } ?? ""
        let renamed = "127.0.1.1\t\(hostname)\(comment)"
        guard renamed != lines[index] else { return nil }
        lines[index] = renamed
        return lines.joined(separator: "\n")
    }
}
