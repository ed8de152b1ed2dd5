// The gateway supervises Chromium with POSIX process groups and signals: Linux only.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
