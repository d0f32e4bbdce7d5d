// The page's saved settings (`growatt-onboard.toml` beside a fleet's file, the file `run` and
// `check` read from a terminal): shown and loaded into the run form when a fleet opens, written
// by *Save these settings*. A second script of the page, run after app.js, whose helpers ($, el,
// api, failure, showError, page) it uses; app.js calls loadSaved when it opens a fleet.
'use strict';

/** The API path of a fleet's saved settings. */
function savedPath(id) {
  return '/api/fleets/' + encodeURIComponent(id) + '/saved';
}

/** Shows what the saved settings file of fleet `id` holds, and fills the run form from it. */
async function loadSaved(id) {
  $('saved-state').textContent = '';
  $('saved-notes').hidden = true;
  showError('saved-error', null);
  try {
    const d = await api('GET', savedPath(id));
    if (page.fleetId === String(id)) renderSaved(d, false);
  } catch (err) {
    showError('saved-error', err);
  }
}

/** Where the settings file is and what it holds; `saved` when the page has just written it. */
function renderSaved(d, saved) {
  const state = $('saved-state');
  if (saved) {
    state.dataset.state = 'saved';
    state.textContent = 'Saved to ' + d.path + '. From a terminal, growatt-onboard run "' + d.input + '" uses these settings too.';
  } else if (d.settings) {
    state.dataset.state = 'loaded';
    state.textContent = 'Loaded the saved settings from ' + d.path + '.';
  } else {
    state.dataset.state = d.exists ? 'unusable' : 'none';
    state.textContent = d.exists ? '' : 'Save these settings (the columns, the sheet, the server, the rate and the requests in flight) as ' + d.path + ', beside the fleet\'s file, and growatt-onboard run and check use them from a terminal too.';
  }
  if (d.problem) showError('saved-error', failure('The saved settings file ' + d.path + ' cannot be used: ' + d.problem));
  const notes = d.notes || [];
  $('saved-notes').replaceChildren(...notes.map((n) => el('li', null, n)));
  $('saved-notes').hidden = notes.length === 0;
  if (!saved) fillRunForm(d.settings || {});
}

/** The rate and the requests in flight from a saved file, where nothing was typed since the
 * last file filled them (a value typed by hand is never overwritten). */
function fillRunForm(s) {
  for (const field of ['rate', 'concurrency']) {
    const input = $(field);
    if (input.value !== page.filled[field]) continue;
    input.value = s[field] || '';
    page.filled[field] = input.value;
  }
  if (s.rate || s.concurrency) $('advanced').open = true;
}

/** `POST` the run form's settings as the fleet's saved settings; a file that cannot be kept as
 * it is (not TOML, say) is replaced only once the person agrees. */
async function saveRunSettings(replace) {
  const body = replace ? { replace: true } : {};
  const rate = $('rate').value.trim();
  if (rate) body.rate = rate;
  const concurrency = $('concurrency').value.trim();
  if (concurrency) body.concurrency = /^[0-9]+$/.test(concurrency) ? Number(concurrency) : concurrency;
  $('save-settings').disabled = true;
  try {
    renderSaved(await api('POST', savedPath(page.fleetId), body), true);
    showError('saved-error', null);
  } catch (err) {
    if (err.status === 409 && !replace && window.confirm(err.message + '\n\nReplace it with these settings?')) {
      $('save-settings').disabled = false;
      return saveRunSettings(true);
    }
    showError('saved-error', err);
  } finally {
    $('save-settings').disabled = false;
  }
}

document.addEventListener('DOMContentLoaded', () => {
  $('save-settings').addEventListener('click', () => saveRunSettings(false));
});
