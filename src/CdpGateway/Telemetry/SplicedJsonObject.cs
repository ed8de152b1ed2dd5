using System.Globalization;

namespace CdpGateway.Telemetry;

/// <summary>
/// The bytes of a JSON object put together from pieces that are already JSON: an opening up to a number member's value,
/// the number, a middle up to the last member's value, that value and the closing brace. Both the event ring and the
/// envelope writer store events this way, so that an event's data is copied, never serialized again.
/// </summary>
internal static class SplicedJsonObject
{
    /// <summary>Enough bytes for any <see cref="long"/> in decimal.</summary>
    public const int MaxNumberBytes = 20;

    /// <summary>Writes <paramref name="number"/> in decimal into <paramref name="digits"/> (at least
    /// <see cref="MaxNumberBytes"/> long) and returns the written part.</summary>
    public static ReadOnlySpan<byte> FormatNumber(long number, Span<byte> digits)
    {
        number.TryFormat(digits, out int count, default, CultureInfo.InvariantCulture);
        return digits[..count];
    }

    public static int Length(ReadOnlySpan<byte> opening, ReadOnlySpan<byte> number, ReadOnlySpan<byte> middle, ReadOnlySpan<byte> value) =>
        opening.Length + number.Length + middle.Length + value.Length + 1;

    /// <summary>Copies the pieces into <paramref name="destination"/>, which holds at least <see cref="Length"/> bytes.</summary>
    public static void CopyTo(Span<byte> destination, ReadOnlySpan<byte> opening, ReadOnlySpan<byte> number, ReadOnlySpan<byte> middle, ReadOnlySpan<byte> value)
    {
        opening.CopyTo(destination);
        Span<byte> rest = destination[opening.Length..];
        number.CopyTo(rest);
        rest = rest[number.Length..];
        middle.CopyTo(rest);
        rest = rest[middle.Length..];
        value.CopyTo(rest);
        rest[value.Length] = (byte)'}';
    }
}
