namespace CdpGateway.Telemetry.Stats;

/// <summary>
/// The series one stats sample holds, by column. Column 0 is a level (connections open at the end of the interval); every
/// other column is a count of what happened in the interval, the difference of a running total between two samples.
/// </summary>
public static class StatsColumns
{
    public const int ConnectionsOpen = 0;
    public const int Connects = 1;

    /// <summary>The first of the four ends-by-reason columns, in <see cref="DisconnectReasons.All"/>'s order.</summary>
    public const int EndsFirst = 2;
    public const int MessagesFromClient = 6;
    public const int MessagesFromUpstream = 7;
    public const int BytesFromClient = 8;
    public const int BytesFromUpstream = 9;
    public const int Commands = 10;
    public const int ChromiumChanges = 11;
    public const int Count = 12;

    public static int Ends(DisconnectReason reason) => EndsFirst + (int)reason;
}
