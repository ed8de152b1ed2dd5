// The gateway supervises Chromium with POSIX process groups and signals: Linux only. Elsewhere launch mode refuses to
// start unless --unsupervised (LaunchSupervision), and the epoll relay stays off (EpollRelay.OffReason).
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
