// The settings page's behaviour: the analytics switch shows or hides the setup section, and
// an upload's progress bars follow the job by polling progress.php.
(function () {
  'use strict';
  var analytics = document.getElementById('ecommerce_analytics');
  var setup = document.getElementById('ecommerce-setup');
  if (analytics && setup) {
    analytics.addEventListener('change', function () {
      setup.hidden = !analytics.checked;
    });
  }

  var progress = document.getElementById('progress');
  if (!progress || !progress.dataset.job) {
    return;
  }
  var job = progress.dataset.job;
  var phases = document.getElementById('phases');

  function bar(phase) {
    var row = document.createElement('div');
    row.className = 'phase';
    var label = document.createElement('span');
    label.className = 'phase-label';
    label.textContent = phase.list + ' · ' + phase.kind;
    var track = document.createElement('span');
    track.className = 'bar';
    var fill = document.createElement('span');
    fill.className = 'fill' + (phase.failed > 0 ? ' with-failures' : '');
    fill.style.width = phase.percent + '%';
    track.appendChild(fill);
    var count = document.createElement('span');
    count.className = 'phase-count';
    count.textContent = phase.settled + ' / ' + phase.total + (phase.failed > 0 ? ' (' + phase.failed + ' refused)' : '');
    row.appendChild(label);
    row.appendChild(track);
    row.appendChild(count);
    return row;
  }

  function show(p) {
    document.getElementById('job-state').textContent = p.state;
    document.getElementById('job-percent').textContent = p.percent + ' %';
    progress.dataset.state = p.state;
    progress.dataset.percent = String(p.percent);
    phases.replaceChildren.apply(phases, p.phases.map(bar));
    var box = document.getElementById('job-message');
    box.textContent = p.message;
    if (p.state === 'succeeded') {
      box.textContent = 'Done. From now on new orders and carts flow to Mailchimp by themselves.';
    }
    if (p.state !== 'running' && p.errors > 0) {
      var link = document.createElement('a');
      link.href = 'admin.php#sync';
      link.textContent = p.errors === 1 ? '1 record was refused: see Sync errors.' :
        p.errors + ' records were refused: see Sync errors.';
      box.appendChild(document.createTextNode(' '));
      box.appendChild(link);
    }
  }

  function poll() {
    fetch('progress.php?job=' + encodeURIComponent(job), { cache: 'no-store' })
      .then(function (r) { return r.json(); })
      .then(function (p) {
        if (p.error) {
          document.getElementById('job-message').textContent = p.error;
          return;
        }
        show(p);
        if (p.state === 'running') {
          setTimeout(poll, 400);
        }
      })
      .catch(function () { setTimeout(poll, 2000); });
  }
  poll();
})();
