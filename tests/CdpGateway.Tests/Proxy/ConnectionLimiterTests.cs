using CdpGateway.Proxy;
using Microsoft.Extensions.Time.Testing;

namespace CdpGateway.Tests.Proxy;

public sealed class ConnectionLimiterTests
{
    private static readonly TimeSpan QueueTimeout = TimeSpan.FromSeconds(30);

    private readonly FakeTimeProvider _clock = new();

    private ConnectionLimiter Limiter(int max, int queue) => new(max, queue, QueueTimeout, _clock);

    [Fact]
    public async Task WithoutAQueueTheRequestBeyondTheLimitIsRefusedAtOnce()
    {
        var limiter = Limiter(1, 0);
        Assert.Equal(SlotOutcome.Admitted, await limiter.EnterAsync());

        Assert.Equal(SlotOutcome.AtLimit, await limiter.EnterAsync());
        Assert.Equal(1, limiter.RefusedAtLimit);
        limiter.Exit();
        Assert.Equal(0, limiter.Open);
    }

    [Fact]
    public async Task FreedSlotsGoToTheWaitersInArrivalOrder()
    {
        var limiter = Limiter(1, 3);
        Assert.True(limiter.TryEnter());
        var first = limiter.EnterAsync().AsTask();
        var second = limiter.EnterAsync().AsTask();
        var third = limiter.EnterAsync().AsTask();
        Assert.Equal(3, limiter.Queued);

        limiter.Exit();
        Assert.Equal(SlotOutcome.Admitted, await first);
        Assert.False(second.IsCompleted);
        limiter.Exit();
        Assert.Equal(SlotOutcome.Admitted, await second);
        Assert.False(third.IsCompleted);
        limiter.Exit();
        Assert.Equal(SlotOutcome.Admitted, await third);

        Assert.Equal(1, limiter.Open);
        Assert.Equal(0, limiter.Queued);
    }

    [Fact]
    public async Task AWaiterBeyondTheQueueIsRefusedAsQueueFull()
    {
        var limiter = Limiter(1, 2);
        Assert.True(limiter.TryEnter());
        _ = limiter.EnterAsync();
        _ = limiter.EnterAsync();

        Assert.Equal(SlotOutcome.QueueFull, await limiter.EnterAsync());
        Assert.Equal(1, limiter.RefusedQueueFull);
        Assert.Equal(2, limiter.Queued);
    }

    [Fact]
    public async Task AWaiterThatGetsNoSlotWithinTheTimeoutIsRefusedAndLeavesTheQueue()
    {
        var limiter = Limiter(1, 2);
        Assert.True(limiter.TryEnter());
        var waiting = limiter.EnterAsync().AsTask();

        _clock.Advance(QueueTimeout - TimeSpan.FromMilliseconds(1));
        Assert.False(waiting.IsCompleted);
        _clock.Advance(TimeSpan.FromMilliseconds(1));

        Assert.Equal(SlotOutcome.QueueTimeout, await waiting);
        Assert.Equal(0, limiter.Queued);
        Assert.Equal(1, limiter.RefusedQueueTimeout);
        // The slot it never had stays with its holder, and comes back free.
        limiter.Exit();
        Assert.Equal(0, limiter.Open);
    }

    [Fact]
    public async Task AnAbandonedWaiterFreesItsPlaceAndIsSkippedWhenASlotFrees()
    {
        var limiter = Limiter(1, 2);
        Assert.True(limiter.TryEnter());
        using var firstLeaves = new CancellationTokenSource();
        var first = limiter.EnterAsync(firstLeaves.Token).AsTask();
        var second = limiter.EnterAsync().AsTask();

        await firstLeaves.CancelAsync();
        Assert.Equal(SlotOutcome.Abandoned, await first);
        Assert.Equal(1, limiter.Queued);
        // Its place is free again for a newcomer.
        var third = limiter.EnterAsync().AsTask();
        Assert.Equal(2, limiter.Queued);

        limiter.Exit();
        Assert.Equal(SlotOutcome.Admitted, await second);
        Assert.False(third.IsCompleted);
        Assert.Equal(0, limiter.RefusedQueueTimeout);
    }

    [Fact]
    public async Task ANewcomerCannotTakeAFreedSlotWhileOthersWait()
    {
        var limiter = Limiter(1, 2);
        Assert.True(limiter.TryEnter());
        var waiting = limiter.EnterAsync().AsTask();

        limiter.Exit();
        // The slot went to the waiter, not back to the free count.
        Assert.False(limiter.TryEnter());
        Assert.Equal(SlotOutcome.Admitted, await waiting);
        Assert.Equal(1, limiter.Open);

        var later = limiter.EnterAsync().AsTask();
        Assert.False(later.IsCompleted);
        Assert.False(limiter.TryEnter());
    }

    [Fact]
    public async Task StoppingEmptiesTheQueueAndTurnsNewcomersAway()
    {
        var limiter = Limiter(1, 3);
        Assert.True(limiter.TryEnter());
        using var stopping = new CancellationTokenSource();
        var first = limiter.EnterAsync(stopping: stopping.Token).AsTask();
        var second = limiter.EnterAsync(stopping: stopping.Token).AsTask();

        await stopping.CancelAsync();

        Assert.Equal(SlotOutcome.ShuttingDown, await first);
        Assert.Equal(SlotOutcome.ShuttingDown, await second);
        Assert.Equal(0, limiter.Queued);
        Assert.Equal(SlotOutcome.ShuttingDown, await limiter.EnterAsync(stopping: stopping.Token));
        limiter.Exit();
        Assert.Equal(0, limiter.Open);
    }

    [Fact]
    public async Task AWaiterAdmittedBeforeItsTimeoutIsNotCountedAsTimedOutLater()
    {
        var limiter = Limiter(1, 1);
        Assert.True(limiter.TryEnter());
        var waiting = limiter.EnterAsync().AsTask();
        limiter.Exit();
        Assert.Equal(SlotOutcome.Admitted, await waiting);

        _clock.Advance(QueueTimeout * 2);

        Assert.Equal(0, limiter.RefusedQueueTimeout);
        Assert.Equal(1, limiter.Open);
    }

    [Fact]
    public async Task UnderConcurrentArrivalsAndLeavesNoMoreThanTheLimitEverHoldASlotAndAllEndAdmitted()
    {
        var limiter = Limiter(2, 200);
        var holding = 0;
        var most = 0;
        async Task UseASlotAsync()
        {
            await Task.Yield();
            Assert.Equal(SlotOutcome.Admitted, await limiter.EnterAsync());
            var now = Interlocked.Increment(ref holding);
            InterlockedMax(ref most, now);
            await Task.Yield();
            Interlocked.Decrement(ref holding);
            limiter.Exit();
        }

        await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => Task.Run(UseASlotAsync)));

        Assert.InRange(most, 1, 2);
        Assert.Equal(0, limiter.Open);
        Assert.Equal(0, limiter.Queued);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }
}
