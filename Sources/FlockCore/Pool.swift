/// A group of interchangeable instances behind one balancer backend, scaled by one policy.
public struct Pool: Sendable, Hashable, Codable {
    public var name: String
    public var backend: String
    /// Paused pools are watched and recorded but not resized.
    public var paused: Bool
    /// An operator's fixed desired count, which overrides the policy until cleared.
    public var manualDesired: Int?
    /// The policy version in force.
    public var policyVersion: Int?

    public init(
        name: String, backend: String, paused: Bool = false, manualDesired: Int? = nil, policyVersion: Int? = nil
    ) {
        self.name = name
        self.backend = backend
        self.paused = paused
        self.manualDesired = manualDesired
        self.policyVersion = policyVersion
    }

    /// Pool names become part of VM, server and file names, so they are restricted to `[a-z0-9-]{1,63}`.
    public static func isValidName(_ name: String) -> Bool {
        (1...63).contains(name.count)
            && name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }
}
