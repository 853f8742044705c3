# Sidekiq's real flow against the server at REDIS_URL (run by
# test/integration/test_jobqueues.py):
#   ruby sidekiq_flow.rb push   pushes jobs: plain ones (perform_async and
#                               push_bulk), a scheduled one (perform_in), one
#                               that fails once and is retried, one that
#                               fails with no retries (to the dead set);
#                               prints their jids as JSON
#   sidekiq -r ./sidekiq_flow.rb -c 2
#                               the real Sidekiq server runs them (this file,
#                               required, defines the job classes)
#   ruby sidekiq_flow.rb wait N JIDS
#                               waits up to N seconds until every job pushed
#                               (JIDS: push's output) has run; prints what ran
#   ruby sidekiq_flow.rb stats  after Sidekiq has stopped (it writes its
#                               counters at exit): Sidekiq's own view (Stats,
#                               the sets, the queue, the live processes)
# The jobs record what they did in the hash jq:results (jid => value) and
# count their runs in jq:runs.
require "json"
require "sidekiq"
require "sidekiq/api"

# redis-rb 4.8 warns about calls Sidekiq 6.4 makes (sadd, brpop timeouts).
Redis.silence_deprecations = true

Sidekiq.configure_server do |config|
  # Poll the schedule and retry sets every second instead of every 5 s per
  # process (Sidekiq still waits up to 5 s at random before its first poll).
  config.options[:poll_interval_average] = 1
end

module JQ
  def self.record(jid, value)
    Sidekiq.redis do |c|
      c.hincrby("jq:runs", jid, 1)
      c.hset("jq:results", jid, value.to_json)
    end
  end

  def self.runs(jid)
    Sidekiq.redis { |c| c.hincrby("jq:runs", jid, 1) }
  end
end

class AddJob
  include Sidekiq::Worker
  def perform(a, b)
    JQ.record(jid, a + b)
  end
end

class ScheduledJob
  include Sidekiq::Worker
  def perform(pushed_at)
    JQ.record(jid, Time.now.to_f - pushed_at)
  end
end

class FlakyJob
  include Sidekiq::Worker
  sidekiq_options retry: 3
  sidekiq_retry_in { |_count, _exception| 1 }
  def perform
    n = JQ.runs(jid)
    raise "first attempt fails" if n == 1
    Sidekiq.redis { |c| c.hset("jq:results", jid, "ok on attempt #{n}".to_json) }
  end
end

class DeadJob
  include Sidekiq::Worker
  sidekiq_options retry: 0
  def perform
    JQ.runs(jid)
    raise "always fails"
  end
end

if $PROGRAM_NAME == __FILE__
  case ARGV[0]
  when "push"
    now = Time.now.to_f
    jids = {
      "add" => (0...4).map { |i| AddJob.perform_async(i, 10 * i) },
      "bulk" => Sidekiq::Client.push_bulk("class" => AddJob, "args" => [[100, 1], [200, 2]]),
      "scheduled" => ScheduledJob.perform_in(2, now),
      "flaky" => FlakyJob.perform_async,
      "dead" => DeadJob.perform_async,
    }
    puts jids.merge("scheduled_size" => Sidekiq::ScheduledSet.new.size,
                    "enqueued" => Sidekiq::Queue.new("default").size).to_json
  when "wait"
    deadline = Time.now + Float(ARGV[1])
    jids = JSON.parse(ARGV[2])
    want = jids["add"] + jids["bulk"] + [jids["scheduled"], jids["flaky"]]
    done = lambda do
      Sidekiq.redis { |c| want.all? { |jid| c.hexists("jq:results", jid) } } && Sidekiq::DeadSet.new.size == 1
    end
    sleep 0.1 until done.call || Time.now > deadline
    results, runs = Sidekiq.redis { |c| [c.hgetall("jq:results"), c.hgetall("jq:runs")] }
    puts({ "results" => results.transform_values { |v| JSON.parse(v) },
           "runs" => runs.transform_values(&:to_i) }.to_json)
  when "stats"
    stats = Sidekiq::Stats.new
    puts({
      "processed" => stats.processed, "failed" => stats.failed,
      "scheduled_size" => Sidekiq::ScheduledSet.new.size,
      "retry_size" => Sidekiq::RetrySet.new.size,
      "dead" => Sidekiq::DeadSet.new.map { |e| [e.jid, e.klass, e["error_message"]] },
      "enqueued" => Sidekiq::Queue.new("default").size,
      "processes" => Sidekiq::ProcessSet.new.size,
    }.to_json)
  else
    abort "usage: ruby sidekiq_flow.rb push | wait SECONDS JIDS_JSON | stats"
  end
end
