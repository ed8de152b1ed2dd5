namespace CdpGateway.Telemetry.Commands;

/// <summary>
/// What one pass over a params object kept of one argument, before the payload is written: its reduced value, or
/// why it is malformed. Holds no reference (strings are offsets into the frame), so a method's slots fit on the stack.
/// A later duplicate of the same key overwrites an earlier one, as the last duplicate is the one a JSON object
/// lookup finds.
/// </summary>
internal struct CdpCapturedArgument
{
    public CdpCaptureState State;

    /// <summary>For <see cref="CdpCaptureState.Malformed"/>: what the argument should have been.</summary>
    public CdpExpectedKind Expected;

    public bool Boolean;
    public double Number;

    /// <summary>A number kept as its canonical text (<see cref="Start"/>, <see cref="Length"/>) instead of <see cref="Number"/>.</summary>
    public bool NumberIsText;
    public long Integer;

    /// <summary>A string's content (escapes in place) or a number's canonical text as an offset and length into the frame, or an array's count.</summary>
    public int Start;
    public int Length;
}

internal enum CdpCaptureState : byte
{
    /// <summary>Not sent, sent as null, or a number that is not finite: no field.</summary>
    Absent,
    Value,
    Malformed,
}

internal enum CdpExpectedKind : byte
{
    Number,
    Integer,
    Boolean,
    String,
    Array,
}
