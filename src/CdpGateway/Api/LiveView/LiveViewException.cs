namespace CdpGateway.Api.LiveView;

/// <summary>The live view could not do what was asked of Chromium; the message says what, in words a viewer is shown.</summary>
public sealed class LiveViewException(string message) : Exception(message);
