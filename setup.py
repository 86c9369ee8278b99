"""Packaging for dnd_nano, driven by settings.ini (nbdev 2's template, brought up to date).

Changes from the template: no `pkg_resources` (requirements are plain strings), the licence is an SPDX expression
rather than a classifier, the development-status classifier is looked up safely, and the Python-version classifiers
start at `min_python` and stop at the newest release we list.
"""
from configparser import ConfigParser
from pathlib import Path

import setuptools

here = Path(__file__).parent
cfg = ConfigParser(delimiters=['='])
cfg.read(here/'settings.ini', encoding='utf-8')
cfg = cfg['DEFAULT']

expected = ('version description keywords author author_email license status min_python audience language '
            'lib_name user').split()
missing = [k for k in expected if k not in cfg]
if missing: raise SystemExit(f'settings.ini is missing the key(s) {missing}: add them under [DEFAULT].')

licenses = {'apache2': 'Apache-2.0', 'mit': 'MIT', 'gpl3': 'GPL-3.0-only', 'bsd3': 'BSD-3-Clause'}
statuses = {'1': 'Planning', '2': 'Pre-Alpha', '3': 'Alpha', '4': 'Beta', '5': 'Production/Stable',
            '6': 'Mature', '7': 'Inactive'}
py_versions = ['3.8', '3.9', '3.10', '3.11', '3.12', '3.13', '3.14']

status = cfg['status'].strip()
if status not in statuses: raise SystemExit(f'settings.ini: status = {status!r}; use a number from 1 to 7.')
min_python = cfg['min_python'].strip()
if min_python not in py_versions: raise SystemExit(f'settings.ini: min_python = {min_python!r}; use one of {py_versions}.')

requirements = cfg.get('requirements', '').split()
dev_requirements = cfg.get('dev_requirements', '').split()
console_scripts = cfg.get('console_scripts', '').split()
readme = here/'README.md'

setuptools.setup(
    name=cfg['lib_name'],
    version=cfg['version'],
    description=cfg['description'],
    long_description=readme.read_text(encoding='utf-8') if readme.exists() else cfg['description'],
    long_description_content_type='text/markdown',
    license=licenses.get(cfg['license'], cfg['license']),
    author=cfg['author'], author_email=cfg['author_email'],
    keywords=cfg['keywords'].split(),
    url=cfg.get('git_url', ''),
    classifiers=[f'Development Status :: {status} - {statuses[status]}',
                 f'Intended Audience :: {cfg["audience"].title()}',
                 f'Natural Language :: {cfg["language"].title()}',
                 'Programming Language :: Python :: 3'] +
                [f'Programming Language :: Python :: {v}' for v in py_versions[py_versions.index(min_python):]],
    packages=setuptools.find_packages(include=[cfg['lib_name'], cfg['lib_name'] + '.*']),
    include_package_data=True,
    install_requires=requirements,
    extras_require={'dev': dev_requirements},
    python_requires=f'>={min_python}',
    zip_safe=False,
    entry_points={'console_scripts': console_scripts, 'nbdev': [f'{cfg["lib_path"]}={cfg["lib_path"]}._modidx:d']},
)
