/// The identity file the agent writes for the app: `{"clone_id":…,"generation":…,"hostname":…}`.
/// The agent replaces it by rename after each identity it applies; the demo app reads it back for
/// `/stats` and `/whoami`, so both sides share this one format.
public struct IdentityFile {
    public static let path = "/run/flock/identity.json"

    public var cloneID: String?
    public var generation: Int64
    public var hostname: String

    public init(cloneID: String?, generation: Int64, hostname: String) {
        self.cloneID = cloneID
        self.generation = generation
        self.hostname = hostname
    }

    /// The file's identity; nil when it is missing or not JSON. Fields of the wrong type read as
    /// absent (no clone id, generation 0, no hostname).
    public static func load() -> IdentityFile? {
        guard let bytes = Files.read(path, maxBytes: 64 * 1024), let value = try? JSONParser.parse(bytes) else {
            return nil
        }
        return IdentityFile(
            cloneID: value["clone_id"]?.stringValue,
            generation: value["generation"]?.int64Value ?? 0,
            hostname: value["hostname"]?.stringValue ?? ""
        )
    }

    /// Writes the file atomically (creating /run/flock); false if any step failed.
    public func save() -> Bool {
        let json = JSONWriter.object([
            ("clone_id", .optionalString(cloneID)),
            ("generation", .integer(generation)),
            ("hostname", .string(hostname)),
        ])
        return Files.makeDirectory("/run/flock") && Files.writeAtomically(Self.path, Array((json + "\n").utf8))
    }
}
