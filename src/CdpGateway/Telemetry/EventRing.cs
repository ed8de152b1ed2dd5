namespace CdpGateway.Telemetry;

/// <summary>
/// The latest events of an <see cref="EventStream"/>, stored as their envelope bytes in slots that are written over in
/// place: publishing an event allocates nothing once its slot's buffer is large enough, so a busy stream (a
/// <c>cdp_command</c> per click) neither feeds the garbage collector nor keeps thousands of mid-life objects for it to
/// promote. Readers copy what they take.
/// </summary>
/// <remarks>
/// One writer at a time (the stream's publish lock); readers take no lock. Each slot works as a sequence lock: the
/// writer first raises <see cref="_reserved"/> to the seq it writes (so a reader knows the slot's old event is gone),
/// clears the slot's seq, writes, and sets the seq last; a reader copies a slot and keeps the copy only if the slot
/// still holds the same seq afterwards. A copy torn by a concurrent write is thrown away and the event counted as
/// missed, exactly as if the reader had been slower.
/// </remarks>
internal sealed class EventRing
{
    // A slot's buffer starts at this size and grows by powers of two; one that grew past LargeSlotBytes is replaced by a
    // small one when a small event comes, so one huge event does not hold its memory for the ring's lifetime.
    private const int MinSlotBytes = 256;
    private const int LargeSlotBytes = 64 * 1024;

    private static ReadOnlySpan<byte> Head => "{\"seq\":"u8;
    private static ReadOnlySpan<byte> Middle => ",\"event\":"u8;

    private readonly Slot?[] _slots;

    // Written only by the writer: the seq being written (or the last written). Events older than _reserved - Capacity
    // + 1 are gone, or going.
    private long _reserved;

    public EventRing(int capacity) => _slots = new Slot?[capacity];

    public int Capacity => _slots.Length;

    /// <summary>
    /// Stores the event with <paramref name="seq"/> (the one after the last stored) as its envelope
    /// <c>{"seq":N,"event":EVENT}</c>. Only ever called by one thread at a time.
    /// </summary>
    public void Write(long seq, string category, string type, ReadOnlySpan<byte> eventJson)
    {
        int index = SlotOf(seq);
        Slot slot = _slots[index] ??= new Slot();

        Volatile.Write(ref _reserved, seq);
        // A full fence, not a release: the bytes written below must not become visible before the slot says it no
        // longer holds its old event.
        Interlocked.Exchange(ref slot.Seq, 0);

        ReadOnlySpan<byte> digits = SplicedJsonObject.FormatNumber(seq, stackalloc byte[SplicedJsonObject.MaxNumberBytes]);
        int length = SplicedJsonObject.Length(Head, digits, Middle, eventJson);
        if (slot.Bytes.Length < length || (slot.Bytes.Length > LargeSlotBytes && length <= LargeSlotBytes / 4))
        {
            slot.Bytes = new byte[Math.Max(MinSlotBytes, (int)Math.Min(Array.MaxLength, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)length)))];
        }

        SplicedJsonObject.CopyTo(slot.Bytes, Head, digits, Middle, eventJson);
        slot.Length = length;
        slot.Category = category;
        slot.Type = type;
        Volatile.Write(ref slot.Seq, seq);
    }

    /// <summary>A copy of the stored envelope of <paramref name="seq"/>, for sinks (called by the writer, right after
    /// <see cref="Write"/>).</summary>
    public EventEnvelope CopyLatest(long seq)
    {
        Slot slot = _slots[SlotOf(seq)]!;
        return new EventEnvelope(seq, slot.Category, slot.Type, slot.Bytes.AsSpan(0, slot.Length).ToArray());
    }

    /// <summary>The oldest seq that may still be read, given <paramref name="latest"/> as the latest published.</summary>
    public long OldestReadable(long latest) => Math.Max(latest, Volatile.Read(ref _reserved)) - _slots.Length + 1;

    /// <summary>
    /// Reads the event <paramref name="seq"/> (published, not older than <see cref="OldestReadable"/>): a copy when it
    /// is still there and of <paramref name="category"/> (any when null), null when it is of another category. False
    /// when a writer has taken its slot since: it is lost to this reader.
    /// </summary>
    public bool TryRead(long seq, string? category, out EventEnvelope? envelope)
    {
        envelope = null;
        Slot? slot = Volatile.Read(ref _slots[SlotOf(seq)]);
        if (slot is null || Volatile.Read(ref slot.Seq) != seq)
        {
            return false;
        }
        string slotCategory = slot.Category;
        string type = slot.Type;
        byte[] bytes = slot.Bytes;
        int length = slot.Length;
        byte[]? copy = null;
        bool wanted = category is null || string.Equals(slotCategory, category, StringComparison.Ordinal);
        if (wanted && length <= bytes.Length)
        {
            copy = bytes.AsSpan(0, length).ToArray();
        }
        // The copy's loads must be done before the seq is looked at again.
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref slot.Seq) != seq)
        {
            return false;
        }
        if (wanted)
        {
            envelope = new EventEnvelope(seq, slotCategory, type, copy!);
        }
        return true;
    }

    private int SlotOf(long seq) => (int)((seq - 1) % _slots.Length);

    private sealed class Slot
    {
        // The seq of the event the slot holds, 0 while it is being written.
        public long Seq;
        public byte[] Bytes = [];
        public int Length;
        public string Category = "";
        public string Type = "";
    }
}
