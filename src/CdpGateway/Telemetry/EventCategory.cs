namespace CdpGateway.Telemetry;

/// <summary>The telemetry categories; each can be switched on or off as a whole.</summary>
public static class EventCategory
{
    public const string Connection = "connection";
    public const string Control = "control";
    public const string System = "system";

    public static readonly IReadOnlyList<string> All = [Connection, Control, System];
}
