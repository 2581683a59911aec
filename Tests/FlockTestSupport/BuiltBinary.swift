import Foundation

/// The executables `swift build --build-tests` built (flockctl, flockd), which tests run as the
/// user does.
public enum BuiltBinary {
    /// `name` next to the test runner, in one of its parent directories, or in .build/debug; nil
    /// when it is not built.
    ///
    /// swift-testing on Linux runs `.build/<triple>/debug/FlockPackageTests.xctest`, whose directory
    /// also holds the products; on macOS the bundle is a directory (`X.xctest/Contents/MacOS/X`).
    public static func url(_ name: String) -> URL? {
        let fm = FileManager.default
        let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var candidates = [runner.deletingLastPathComponent().appendingPathComponent(name)]
        var directory = runner.deletingLastPathComponent()
        for _ in 0..<4 {
            directory = directory.deletingLastPathComponent()
            candidates.append(directory.appendingPathComponent(name))
        }
        candidates.append(Repo.root.appendingPathComponent(".build/debug/\(name)"))
        return candidates.first { url in
            var isDirectory: ObjCBool = false
            return fm.fileExists(atPath: url.path, isDirectory: &isDirectory) && !isDirectory.boolValue
                && fm.isExecutableFile(atPath: url.path)
        }
    }
}
