import Foundation

/// The package root, for tests that read its files (Policies/, Deploy/, .build-guest/).
public enum Repo {
    /// This file is Tests/FlockTestSupport/Repo.swift.
    public static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }
}
